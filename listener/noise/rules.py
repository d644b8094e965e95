"""Which cooldown a noise-control rule gets: one lookup for the delivery controls and the listening job."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from datetime import timedelta


def cooldown_for(rule: str, cooldowns: Mapping[str, timedelta]) -> timedelta:
    """The cooldown of `rule` ("sla.breach", "spike.volume", ...): an exact key wins, then the first matching glob."""
    if rule in cooldowns:
        return cooldowns[rule]
    for pattern, value in cooldowns.items():
        if fnmatch.fnmatchcase(rule, pattern):
            return value
    return timedelta(0)
