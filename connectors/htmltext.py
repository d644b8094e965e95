"""Sanitised HTML (Mastodon content, forum posts, feed summaries) to readable plain text."""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCKS = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})
_SKIP = frozenset({"script", "style", "template"})


class _TextCollector(HTMLParser):
    """Collects text nodes, turning <br> into a newline and block ends into a blank line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)

    def _break(self) -> None:
        if self.parts and not "".join(self.parts[-2:]).endswith("\n\n"):
            self.parts.append("\n\n")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities decoded, tags dropped, paragraphs kept.

    Mastodon wraps the hidden parts of long links in `<span class="invisible">`; they are kept,
    so the text holds the full URL rather than its shortened display form.
    """
    if not html:
        return ""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = [" ".join(line.split()) for line in "".join(collector.parts).split("\n")]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
