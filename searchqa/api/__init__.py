"""The HTTP service: Litestar app, answer routes, SSE, OpenAI-compatible facade."""
