"""Who is calling: API keys and the principals they stand for."""
