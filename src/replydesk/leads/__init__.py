"""Leads (people), their messages across channels and the rollups the inbox reads."""
