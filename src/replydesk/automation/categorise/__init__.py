"""The offline categoriser: pure functions from a reply's new text to a category."""
