"""Answer sessions: cache, single-flight, resumable logs, cancellation. No HTTP here, so every
surface (the HTTP API, the Slack bot, the command line) shares it."""
