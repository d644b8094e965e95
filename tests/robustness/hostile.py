"""A reproducible corpus of hostile texts shared by the robustness tests."""

from __future__ import annotations

import random

SLACK_SEQUENCES = [
    "<!channel>", "<!here>", "<!everyone>", "<@U0123ABCD>", "<!subteam^S0123|@oncall>",
    "<http://evil.example|https://bank.example>", "<mailto:x@evil.example|help>", "@channel", "@here",
    "<#C0123|general>", "&lt;!channel&gt;", "<<!channel>>", "<!date^1392734382^{date}|x>",
]
NASTY_CHARS = [
    "\x00", "\x07", "\x1b[31m", "\x1b]0;title\x07", "\r", "\r\n", "\t", "\x7f", "\x85", "\u200b", "\u200d",
    "\u2060", "\ufeff", "\u202e", "\u202d", "\u2066", "\u2069", "\ud800", "\udfff", "\U0001f4a9", "\u0301",
]
MARKUP = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "*bold* _it_ ~s~ `code` ```block```",
    "[link](http://evil.example)", "{\"json\": true}", "'; DROP TABLE mentions; --", "%s %d {0} {text}",
    "[red]rich markup[/red]", "> quote\n>> nested",
]


def corpus(count: int = 3000, seed: int = 7) -> list[str]:
    """`count` hostile texts mixing Slack control sequences, markup and nasty characters."""
    rng = random.Random(seed)
    pieces = SLACK_SEQUENCES + NASTY_CHARS + MARKUP + ["refund", "broken", "love it", "terrible", " "]
    texts = [*SLACK_SEQUENCES, *MARKUP, "".join(NASTY_CHARS), "x" * 1_000_000, "<!channel>" * 100_000]
    while len(texts) < count:
        texts.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))))
    return texts
