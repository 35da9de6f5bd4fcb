"""Access: API keys and member tokens."""
