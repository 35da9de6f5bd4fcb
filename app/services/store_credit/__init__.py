"""Store credit: money a member holds with the store, moved through the ledger."""
