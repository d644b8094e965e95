"""Configuration: one TOML file, `${VAR}` secrets from the environment, validated by pydantic.

config.types is part of the kernel (every component's schema uses its Duration and StrictModel);
config.schema assembles the components' schemas and config.loader reads the file. This package
re-exports nothing, so importing config.types never loads the schema (and listener.sla with it).
"""
