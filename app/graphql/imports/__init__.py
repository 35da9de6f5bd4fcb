"""Imports in the API: uploads run as jobs with progress, and backtests of program changes."""
