"""Alert delivery: each row of the alert outbox (``alerts``) posted to the workspace's Slack
at most once (``jobs.py``), queued by a periodic sweep (``tasks.py``)."""
