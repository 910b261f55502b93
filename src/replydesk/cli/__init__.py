"""The ``replydesk`` command line."""
