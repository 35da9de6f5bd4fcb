"""Laurel: a self-hosted, headless customer-loyalty engine for online stores."""
