"""Cross-cutting infrastructure: settings, database, logging, errors."""
