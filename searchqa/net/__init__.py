"""Outbound HTTP for outside URLs: the SSRF guard, the guarded transport, bounded bodies."""
