"""Analyst tooling: trends, SLA reports, read-only SQL, exports (used by the CLI and the REST API)."""
