"""The command line's exit codes."""

EXIT_OK = 0
EXIT_ERROR = 1
"""Something failed: an answer's internal error, an indexing source that could not be read."""
EXIT_BAD_INPUT = 2
"""The input was refused: an empty question, an unreadable file, a bad setting."""
EXIT_UPSTREAM = 3
"""A service searchqa depends on failed: search or the model."""
