"""Source connectors: each polls one API and maps its records to Mentions."""
