"""The HTTP layer: thin routers that map service results to JSON or SSE."""
