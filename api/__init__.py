"""api: the aiohttp application (auth, routes, pages, OpenAPI, metrics)."""
