"""Incident triage from log exports (``replydesk triage``): docs/triage.md."""
