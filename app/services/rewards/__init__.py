"""Rewards and codes: the catalogue, redemption, reward terms, gifts, and redemption codes."""
