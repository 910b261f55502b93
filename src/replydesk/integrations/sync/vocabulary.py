"""The sync domain's words."""

from __future__ import annotations

from enum import StrEnum


class SyncJob(StrEnum):
    LEAD_SYNC = "lead.sync"
    EMAILBISON_RECONCILE = "emailbison.reconcile"


# ``last_error.category`` of a provider marked degraded because its webhooks stopped.
PROVIDER_SILENT = "provider_silent"
