"""Real local servers that stand in for the web, SearXNG and SGLang in tests."""
