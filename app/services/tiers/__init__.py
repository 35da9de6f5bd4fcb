"""Tiers: configuration, qualification, assignment, and what a tier gives."""
