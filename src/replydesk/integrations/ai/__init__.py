"""The AI provider: an OpenAI-compatible Responses API through the official SDK (``client``),
configured per workspace or per instance (``config``)."""
