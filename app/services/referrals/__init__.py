"""Referrals: codes, settings, creating referrals, their rewards, review and numbers."""
