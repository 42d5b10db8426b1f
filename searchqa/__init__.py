"""searchqa: a self-hosted answer engine with cited, streamed answers."""

__version__ = "0.1.0"
