"""Async use cases: the only code that writes. Each public function owns its transaction."""
