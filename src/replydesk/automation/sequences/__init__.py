"""Follow-up sequences (docs/automation.md "Sequences"): definitions, enrolments of leads, the
scheduler tick that sends due steps through the reply path, and the stops."""
