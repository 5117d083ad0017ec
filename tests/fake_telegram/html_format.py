"""Telegram's HTML parse mode: validate markup and turn it into plain text plus entities."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

# Tag -> entity type, as listed under "HTML style" in the Bot API docs.
TAG_ENTITIES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HTMLEntityError(ValueError):
    """The text is not valid Telegram HTML; str(error) is Telegram's reason."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTMLParser(HTMLParser):
    """Collects plain text and entities; raises HTMLEntityError on what Telegram rejects."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._line_starts.append(index + 1)
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, int, dict[str, str | None]]] = []

    def _char_index(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _byte_offset(self) -> int:
        return len(self._source[: self._char_index()].encode())

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in TAG_ENTITIES or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise HTMLEntityError(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        self._open.append((tag, self.length, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        offset = self._byte_offset()
        if not self._open:
            raise HTMLEntityError(f"Unexpected end tag at byte offset {offset}")
        expected = self._open[-1][0]
        if expected != tag:
            raise HTMLEntityError(
                f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", found "</{tag}>"'
            )
        self._close_entity(*self._open.pop())

    def _close_entity(self, tag: str, start: int, attributes: dict[str, str | None]) -> None:
        length = self.length - start
        language = (attributes.get("class") or "").removeprefix("language-")
        if tag == "code" and self._open and self._open[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity carrying the language.
            if language:
                self._open[-1][2]["language"] = language
            return
        if length == 0:
            return
        entity: dict[str, Any] = {"type": TAG_ENTITIES[tag], "offset": start, "length": length}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        if tag == "pre" and attributes.get("language"):
            entity["language"] = attributes["language"]
        if tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        if "<" in data:
            # A bare "<" means unescaped user text, which Telegram refuses.
            index = data.index("<")
            offset = self._byte_offset() + len(data[:index].encode())
            tag = data[index + 1 :].split(" ", 1)[0]
            raise HTMLEntityError(f'Unsupported start tag "{tag}" at byte offset {offset}')
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        end = self._char_index() + 1 + len(name)
        terminated = self._source[end : end + 1] == ";"
        if name in NAMED_ENTITIES and terminated:
            self._emit(NAMED_ENTITIES[name])
        elif terminated:
            raise HTMLEntityError(f'Unsupported HTML entity "&{name};" at byte offset {self._byte_offset()}')
        else:
            self._emit(f"&{name}")  # "R&D": not an entity, kept literally like Telegram does

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self._emit(chr(code))
        except (ValueError, OverflowError):
            raise HTMLEntityError(f"Invalid HTML entity at byte offset {self._byte_offset()}") from None

    def handle_comment(self, data: str) -> None:
        raise HTMLEntityError(f'Unsupported start tag "!--" at byte offset {self._byte_offset()}')

    def handle_decl(self, decl: str) -> None:
        raise HTMLEntityError(f'Unsupported start tag "!" at byte offset {self._byte_offset()}')

    def unknown_decl(self, data: str) -> None:
        self.handle_decl(data)

    def handle_pi(self, data: str) -> None:
        raise HTMLEntityError(f'Unsupported start tag "?" at byte offset {self._byte_offset()}')

    def finish(self) -> None:
        """Flush the parser and insist that every tag was closed."""
        self.close()
        if self._open:
            raise HTMLEntityError(f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"')


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (plain text, entities) for Telegram HTML, or raise HTMLEntityError."""
    parser = _TelegramHTMLParser(source)
    parser.feed(source)
    parser.finish()
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities
