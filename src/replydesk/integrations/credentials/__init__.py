"""Provider credentials (encrypted at rest), their health, and the EmailBison host allowlist.

Modules: ``vocabulary`` (providers, health statuses), ``models``, ``schemas``, ``repository``
(all SQL), ``service`` (store/delete/list, queue checks), ``hosts`` (the allowlist),
``checks`` (one health check per provider, plain httpx through ``core.urlguard``), ``jobs``
(the ``integration.health_check`` handler), ``tasks`` (periodic checks), ``endpoints``.
"""
