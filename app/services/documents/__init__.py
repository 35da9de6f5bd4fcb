"""Query documents clients register by hash (automatic persisted queries)."""
