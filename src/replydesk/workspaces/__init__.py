"""Workspaces: tenants, their webhook token and per-provider scoping."""
