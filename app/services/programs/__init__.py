"""Programs: their configuration, and the demo program."""
