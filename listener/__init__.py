"""listener: a self-hosted social-listening daemon and response-time monitor."""

__version__ = "0.1.0"

# Every HTTP request we make (connectors, the daemon's shared session) names us the same way.
USER_AGENT = f"listener/{__version__} (self-hosted social listening; +https://github.com/listener)"
