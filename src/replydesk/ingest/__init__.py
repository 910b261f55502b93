"""Webhook ingestion: authenticate, validate, one durable insert, answer."""
