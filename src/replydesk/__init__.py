"""ReplyDesk: multi-channel reply desk backend."""

__version__ = "0.1.0"
