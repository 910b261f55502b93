"""Durable PostgreSQL queue engine shared by webhook_events and jobs."""
