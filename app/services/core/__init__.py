"""What every capability's writes share: idempotency keys, the event outbox, the audit log."""
