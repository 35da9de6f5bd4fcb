"""Analytics: daily rollups kept by the writes, their rebuild, and the program's insights."""
