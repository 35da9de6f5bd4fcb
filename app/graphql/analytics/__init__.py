"""Analytics in the API: programInsights."""
