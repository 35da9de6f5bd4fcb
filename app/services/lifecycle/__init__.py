"""Lifecycle: points expiry and its warnings."""
