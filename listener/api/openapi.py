"""The OpenAPI 3.1 description served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from listener.analytics.filters import EVERY
from listener.analytics.listing import STATES
from listener.analytics.queue import TABS
from listener.analytics.sla import DIMENSIONS as SLA_DIMENSIONS
from listener.analytics.trends import DIMENSIONS as TREND_DIMENSIONS
from listener.interact import ACTION_NAMES


def _param(name: str, description: str, schema: dict[str, Any], *, explode: bool = False) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if explode:
        param["style"] = "form"
        param["explode"] = True
    return param


_LIST = {"type": "array", "items": {"type": "string"}}
_TIME = (
    "A date (2026-01-31), an ISO-8601 datetime (UTC when it has no offset) or a duration back from now "
    "(90d, 12w, 6h; floored to the start of the period)."
)
FILTERS = [
    _param("since", "Start of the range (inclusive). " + _TIME, {"type": "string"}),
    _param("until", "End of the range (exclusive). " + _TIME, {"type": "string"}),
    _param("brand", "Only these brands (repeat, or comma-separate).", _LIST, explode=True),
    _param("source", "Only these connector names (repeat, or comma-separate).", _LIST, explode=True),
    _param("language", "Only these languages (detected, else as given by the source).", _LIST, explode=True),
]
PAGING = [
    _param("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
    _param("page", "The `next` token of the previous page.", {"type": "string"}),
]
_NUM = {"type": ["number", "null"]}
_COUNTS = {k: {"type": "integer"} for k in ("mentions", "scored", "negative", "neutral", "positive", "complaints")}
TREND_ROW = {
    "type": "object",
    "properties": {
        "bucket": {"type": "string", "description": "Start of the UTC period (weeks start on Monday)."},
        **{d: {"type": "string"} for d in TREND_DIMENSIONS},
        **_COUNTS,
        "negative_share": _NUM,
        "neutral_share": _NUM,
        "positive_share": _NUM,
        "complaint_rate": {**_NUM, "description": "complaints / scored"},
    },
}
SLA_ROW = {
    "type": "object",
    "properties": {
        "bucket": {"type": "string"},
        **{d: {"type": ["string", "null"]} for d in SLA_DIMENSIONS},
        "competitor": {"type": "boolean"},
        **{
            k: {"type": "integer"}
            for k in (
                "complaints", "answered", "replied", "acknowledged", "marked_replied", "open", "within_target",
                "breaches", "not_complaint", "other_clocks", "other_answered", "other_unanswered",
            )
        },
        "response_rate": _NUM,
        "median_business_s": {**_NUM, "description": "Business-time seconds to the first response (policy calendar)."},
        "p90_business_s": _NUM,
        "median_response_s": {**_NUM, "description": "Wall-clock seconds to the first response."},
        "p90_response_s": _NUM,
        "within_target_share": {**_NUM, "description": "within_target / (within_target + breaches)"},
    },
}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}},
        "400": {"description": "A parameter is invalid (the `error` field says which)."},
        "401": {"description": "A bearer token is configured and was not given or is wrong."},
    }


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": item},
            "next": {"type": ["string", "null"]},
            "filters": {"type": "object"},
        },
    }


def spec() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "listener analytics API",
            "version": "1",
            "description": "Read-only. Times are ISO-8601 UTC. First-response times are given in business "
            "time of the clock's policy calendar (`median_business_s`, `p90_business_s`) and in wall clock "
            "(`median_response_s`, `p90_response_s`); within target and breaches are judged against the "
            "deadline the policy and calendar set. Same numbers as `listener trends` / "
            "`listener sla-report --format json`.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"TrendRow": TREND_ROW, "SlaRow": SLA_ROW},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/mentions": {
                "get": {
                    "summary": "Mentions with their labels, newest first.",
                    "parameters": FILTERS
                    + PAGING
                    + [
                        _param("sentiment", "Only this sentiment.", {"enum": ["negative", "neutral", "positive"]}),
                        _param("complaint", "Only complaints (true) or non-complaints (false).", {"type": "boolean"}),
                    ],
                    "responses": _ok("A page of mentions.", _page({"type": "object"})),
                }
            },
            "/api/complaints": {
                "get": {
                    "summary": "Complaint clocks. state=open is the queue, earliest deadline first.",
                    "parameters": FILTERS + PAGING + [_param("state", "Only this state.", {"enum": list(STATES)})],
                    "responses": _ok(
                        "A page of complaints with `clock` (ok|warning|breach|closed) and "
                        "`seconds_left`, plus the server's `now`.",
                        _page({"type": "object"}),
                    ),
                }
            },
            "/api/trends": {
                "get": {
                    "summary": "Sentiment shares and complaint rate per period and group (default since=30d).",
                    "parameters": FILTERS
                    + [
                        _param("every", "Period.", {"enum": list(EVERY), "default": "day"}),
                        _param(
                            "by",
                            "Group by (repeat, or comma-separate).",
                            {"type": "array", "items": {"enum": list(TREND_DIMENSIONS)}},
                            explode=True,
                        ),
                    ],
                    "responses": _ok(
                        "The trend report.",
                        {
                            "type": "object",
                            "properties": {
                                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/TrendRow"}}
                            },
                        },
                    ),
                }
            },
            "/api/sla": {
                "get": {
                    "summary": "First-response report per group (default by=brand, since=30d).",
                    "parameters": FILTERS
                    + [
                        _param("every", "Also split per period.", {"enum": list(EVERY)}),
                        _param(
                            "by",
                            "Group by (repeat, or comma-separate).",
                            {"type": "array", "items": {"enum": list(SLA_DIMENSIONS)}},
                            explode=True,
                        ),
                    ],
                    "responses": _ok(
                        "The SLA report.",
                        {
                            "type": "object",
                            "properties": {
                                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/SlaRow"}},
                                "total": {
                                    "$ref": "#/components/schemas/SlaRow",
                                    "description": "Our brands together; competitors are never summed with us.",
                                },
                                "total_scope": {
                                    "type": "string",
                                    "description": "What the total counts: \"our brands (competitors left out)\" "
                                    "or \"all brands\" (no competitor configured).",
                                },
                            },
                        },
                    ),
                }
            },
            "/api/meta": {
                "get": {
                    "summary": "Known brands (competitors marked), sources and languages.",
                    "responses": _ok("Pickers' contents.", {"type": "object"}),
                }
            },
            "/api/queue": {
                "get": {
                    "summary": "The work queue: open clocks of one tab, `due` (next deadline first) and `overdue` "
                    "(newest breach first), with `counts` per tab and `facets` for the pickers.",
                    "parameters": FILTERS
                    + [
                        _param("tab", "complaints: our complaints; other: our non-complaint clocks (questions, "
                               "praise); competitors: competitor clocks.",
                               {"enum": list(TABS), "default": "complaints"}),
                        _param("policy", "Only these policies.", _LIST, explode=True),
                        _param("assignee", "Only clocks assigned to these names; `(unassigned)` for nobody's.",
                               _LIST, explode=True),
                        _param("limit", "Rows per group.", {"type": "integer", "minimum": 1, "maximum": 1000,
                                                              "default": 200}),
                    ],
                    "responses": _ok("One tab of the queue.", {"type": "object"}),
                }
            },
            "/api/actions": {
                "post": {
                    "summary": "Act on a clock (the same actions, records and idempotency as Slack's buttons). "
                    "A server built without an action path answers 503.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["mention_key", "action", "request_id"],
                                    "properties": {
                                        "mention_key": {"type": "string"},
                                        "action": {"enum": list(ACTION_NAMES)},
                                        "request_id": {
                                            "type": "string", "minLength": 8, "maxLength": 100,
                                            "description": "Idempotency key: a retried request acts once.",
                                        },
                                        "assignee": {"type": "string", "description": "assign: to whom."},
                                        "snooze_minutes": {"type": "number", "default": 30},
                                        "by": {
                                            "type": "string",
                                            "description": "Who acts, with the shared token or none; a "
                                            "per-user token names the actor itself.",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        **_ok("`result`: done, duplicate (applied before) or closed (no open clock).",
                              {"type": "object"}),
                        "403": {"description": "A cross-origin request."},
                        "415": {"description": "Not application/json."},
                        "503": {"description": "This server takes no actions."},
                    },
                }
            },
            "/api/events": {
                "get": {
                    "summary": "Server-sent events: `queue` whenever the queue may have changed.",
                    "responses": {"200": {"description": "text/event-stream"}},
                }
            },
            "/api/whoami": {
                "get": {
                    "summary": "Who the token proved to be, whether actions are on, names to assign to.",
                    "responses": _ok("Identity.", {"type": "object"}),
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
