"""Browser-facing pages served by the Laurel app itself."""
