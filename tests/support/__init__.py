"""Helpers shared by the test folders; each folder's conftest.py holds only its fixtures.

- ``pg``: the test PostgreSQL server, the migrated template, per-test clones.
- ``workspaces``: ``new_workspace`` → ``Ws`` (id, webhook token, webhook URLs).
- ``members``: workspaces with members, passwords and API tokens (``Member``).
- ``samples``: the stored provider payloads and payload builders.
- ``rows``: rows written and read straight through the ``Database``.
- ``queue``: events inserted as ingestion writes them, worker runs, waiting, status counts.
- ``http``: a real uvicorn server, an HTTPS test client, login, webhook POSTs.
- ``logs``: captured JSON log lines.
- ``cli``: the ``replydesk`` command as a subprocess.
"""
