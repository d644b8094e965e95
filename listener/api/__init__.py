"""REST API, dashboard and web queue (aiohttp), served by the daemon or, read-only, by `listener api`."""
