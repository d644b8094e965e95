"""Configuration: one TOML file, `${VAR}` secrets from the environment, validated by pydantic."""

from config.loader import load_config, resolve_config_path
from config.schema import Settings

__all__ = ["Settings", "load_config", "resolve_config_path"]
