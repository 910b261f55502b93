"""Slack incoming webhooks: the alert channel (no webhook ingestion, so no ``PROVIDER``)."""
