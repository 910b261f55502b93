"""Replying from the inbox: the reply request (enqueue only), the ``reply.send`` job that calls
the provider outside any transaction, health gates and channel quarantines (docs/integrations.md,
"Replying")."""
