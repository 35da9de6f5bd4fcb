"""Backtests in the API (admin): a proposed program over past orders, and a member's what-if."""
