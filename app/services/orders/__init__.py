"""Orders and earning: what an order earns, recording orders, refunds, and earning rules."""
