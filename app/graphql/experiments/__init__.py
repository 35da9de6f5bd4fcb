"""Experiments in the API: A/B tests of earning rules and rewards, and their results (admin)."""
