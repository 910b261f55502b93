"""Users, memberships, API tokens and browser sessions."""
