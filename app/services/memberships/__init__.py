"""Paid memberships: plans, trials, renewals and their benefits."""
