"""Operator inbox read API: counts, lead list, conversation, operator actions."""
