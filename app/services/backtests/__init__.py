"""Backtests: a proposed program over past orders, and a member's what-if; they write nothing."""
