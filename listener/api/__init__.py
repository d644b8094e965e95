"""Read-only REST API and dashboard (aiohttp), served by the daemon or by `listener api`."""
