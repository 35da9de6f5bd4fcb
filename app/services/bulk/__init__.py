"""Bulk operations: changes to many members run as jobs (docs/capabilities/bulk-operations.md)."""
