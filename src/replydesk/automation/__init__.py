"""Automation on stored messages: categorisation (offline rules), later drafts and sequences."""
