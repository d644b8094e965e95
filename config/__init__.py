"""Configuration: one TOML file, `${VAR}` secrets from the environment, validated by pydantic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.loader import load_config, resolve_config_path
    from config.schema import Settings

__all__ = ["Settings", "load_config", "resolve_config_path"]


def __getattr__(name: str) -> Any:
    """Load the schema on first use: listener.sla imports config.types while config.schema imports
    listener.sla, so importing the schema eagerly here would close an import cycle."""
    if name in ("load_config", "resolve_config_path"):
        from config import loader

        return getattr(loader, name)
    if name == "Settings":
        from config.schema import Settings

        return Settings
    raise AttributeError(f"module 'config' has no attribute {name!r}")
