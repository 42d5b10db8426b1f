"""The command line's exit codes."""

EXIT_OK = 0
EXIT_ERROR = 1
"""Something failed: an answer's internal error, some of the sources given to ``index``."""
EXIT_BAD_INPUT = 2
"""The input was refused: an empty question, an unreadable file or unsupported URL, a bad
setting, ``index`` with no source it could read, ``serve`` on a port in use."""
EXIT_UPSTREAM = 3
"""A service searchqa depends on failed: search or the model."""
