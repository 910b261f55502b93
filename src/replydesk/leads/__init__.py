"""Leads (people), their messages across channels and the rollups the inbox reads.

Public modules: ``service`` (every write to leads, messages and lead events), ``models``,
``vocabulary``; ``jobs.register`` adds the domain's queue handlers."""
