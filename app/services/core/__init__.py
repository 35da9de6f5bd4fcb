"""What every capability's writes share: idempotency keys and the event outbox."""
