"""REST API of the audit trail (read-only)."""
