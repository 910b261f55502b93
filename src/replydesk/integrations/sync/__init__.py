"""Pulling provider history: per-lead sync, EmailBison reconciliation, silence detection."""
