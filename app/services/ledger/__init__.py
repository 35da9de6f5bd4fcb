"""The points ledger: movements, lots, balances, adjustments, and the check that recomputes them."""
