"""Bulk operations in the API: queued as jobs, followed, cancelled."""
