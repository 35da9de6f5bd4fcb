"""Webhooks: a program's outbox events, signed and delivered to the store's endpoints."""
