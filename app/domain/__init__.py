"""Pure rules with no I/O: money, points, limits and the typed errors services raise."""
