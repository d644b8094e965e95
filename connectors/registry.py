"""Built-in connector types by name, imported lazily by dotted path."""

from __future__ import annotations

import importlib
from typing import Any

BUILTIN: dict[str, str] = {
    "jsonl": "connectors.jsonl:JsonlConnector",
    "mastodon": "connectors.mastodon:MastodonConnector",
    "reddit": "connectors.reddit:RedditConnector",
    "hackernews": "connectors.hackernews:HackerNewsConnector",
    "bluesky": "connectors.bluesky:BlueskyConnector",
    "x": "connectors.x:XConnector",
    "youtube": "connectors.youtube:YouTubeConnector",
    "rss": "connectors.rss:RssConnector",
    "discourse": "connectors.discourse:DiscourseConnector",
    "google_play": "connectors.google_play:GooglePlayConnector",
    "app_store": "connectors.app_store:AppStoreConnector",
    "app_store_rss": "connectors.app_store:AppStoreRssConnector",
    "google_business": "connectors.google_business:GoogleBusinessConnector",
    "facebook": "connectors.facebook:FacebookConnector",
    "instagram": "connectors.instagram:InstagramConnector",
    "threads": "connectors.threads:ThreadsConnector",
    "linkedin": "connectors.linkedin:LinkedInConnector",
    "trustpilot": "connectors.trustpilot:TrustpilotConnector",
    "yelp": "connectors.yelp:YelpConnector",
}


def connector_class(type_name: str) -> Any:
    """Import and return the connector class registered as `type_name`."""
    try:
        dotted = BUILTIN[type_name]
    except KeyError:
        raise KeyError(type_name) from None
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def known_types() -> list[str]:
    """Names of every connector type this build knows."""
    return sorted(BUILTIN)
