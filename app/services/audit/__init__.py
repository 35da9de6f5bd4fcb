"""The audit log: what each admin write changed, with secrets and personal signals redacted."""
