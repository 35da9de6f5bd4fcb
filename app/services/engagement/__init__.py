"""Engagement: challenges members complete for points and badges, and badges."""
