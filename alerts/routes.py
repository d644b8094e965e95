"""Routing shared by the sinks that route (Slack, Teams, PagerDuty): the first matching route wins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from alerts.base import Event
from config.sinks import RouteMatch

Target = TypeVar("Target")


def first_match(routes: Sequence[tuple[RouteMatch, Target]], event: Event, default: Target) -> Target:
    """The target of the first route that matches `event` (brand, policy, source, kind), else `default`."""
    policy = event.policy_name
    for route, target in routes:
        if route.matches(brand=event.brand, policy=str(policy or ""), source=event.source, kind=event.kind.value):
            return target
    return default
