"""The incident drill: replay the 18:13 EmailBison burst end to end (see docs/runbook.md)."""
