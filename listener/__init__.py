"""listener: a self-hosted social-listening daemon and response-time monitor."""

__version__ = "0.1.0"
