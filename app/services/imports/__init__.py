"""Imports: members, orders (replayed as of their time) and opening balances from files."""
