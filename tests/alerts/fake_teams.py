"""A loopback fake of a Teams Workflows webhook ("When a Teams webhook request is received").

Like the real trigger it needs the URL's `sig`, answers 202 with an empty body, and refuses with
Logic Apps' `{"error": {"code", "message"}}` shape (400 InvalidRequestContent, 401
DirectApiAuthorizationRequired, 404 WorkflowNotFound, 429 WorkflowRequestsThrottled with Retry-After).
Each accepted card is checked against the Adaptive Card schema's rules the sink relies on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.alerts.fake_http import ScriptedFake

SIG = "sigSECRETvalue0123"
PATH = "/workflows/0a1b2c/triggers/manual/paths/invoke"
QUERY = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
MESSAGE_MAX = 28 * 1024  # Teams' message size limit

_ELEMENTS = {"TextBlock", "RichTextBlock", "Container", "FactSet", "ColumnSet", "Image", "ActionSet"}


def _problem(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def card_problems(message: Any) -> list[str]:
    """What a Teams workflow would refuse (or render wrongly) in `message`."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return ["not a message"]
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["needs exactly one attachment"]
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return [f"contentType {attachment.get('contentType')!r}"]
    card = attachment.get("content")
    if (
        not isinstance(card, dict)
        or card.get("type") != "AdaptiveCard"
        or card.get("version") not in ("1.2", "1.3", "1.4", "1.5")
    ):
        return ["content is not an Adaptive Card 1.2-1.5"]
    problems: list[str] = []

    def element(node: Any) -> None:
        kind = node.get("type") if isinstance(node, dict) else None
        if kind not in _ELEMENTS:
            problems.append(f"unknown element {kind!r}")
        elif kind == "TextBlock" and not isinstance(node.get("text"), str):
            problems.append("TextBlock without text")
        elif kind == "RichTextBlock":
            for run in node.get("inlines", []):
                if not isinstance(run, dict) or run.get("type") != "TextRun" or not isinstance(run.get("text"), str):
                    problems.append(f"bad inline {run!r:.60}")
        elif kind == "Container":
            for item in node.get("items", []):
                element(item)

    for node in card.get("body", []):
        element(node)
    for action in card.get("actions", []):
        if action.get("type") != "Action.OpenUrl" or not str(action.get("url", "")).startswith(("https://", "http://")):
            problems.append(f"bad action {action!r:.80}")
    return problems


class FakeWorkflow(ScriptedFake):
    """Accepted cards in `cards`; refusals in `problems`."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, Any]] = []
        self.problems: list[str] = []

    def app(self) -> web.Application:
        """The aiohttp application serving the trigger URL."""
        app = web.Application()
        app.router.add_post(PATH, self._invoke)
        return app

    async def _invoke(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if request.query.get("sig") != SIG:
            return _problem("DirectApiAuthorizationRequired", "The request must be authenticated.", 401)
        if (answer := self.scripted()) is not None:
            return answer
        if len(seen.raw) > MESSAGE_MAX:
            return _problem("MessageSizeExceeded", "The message is too large.", 413)
        if not isinstance(seen.body, dict):
            return _problem("InvalidRequestContent", "The request content is not valid JSON.", 400)
        if problems := card_problems(seen.body):
            self.problems.extend(problems)
            return _problem("InvalidRequestContent", "; ".join(problems), 400)
        self.cards.append(seen.body)
        return web.Response(status=202)
