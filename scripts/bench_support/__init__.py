"""`scripts/bench`: load-test the API against the floor of its own SQL through the driver."""
