"""Experiments: A/B tests of earning rules and rewards, their enforcement and their results."""
