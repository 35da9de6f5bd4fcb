"""Scheduled work, safe to re-run: each job does each thing once, whoever runs it and how often."""
