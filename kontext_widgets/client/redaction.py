"""Keeping the API key out of everything that is *shown*, and only there.

Answers are parsed exactly as they came (a short key that happens to occur in a task
id must not corrupt the id); text built from them for people — messages, log lines,
reprs, exception texts, what the store keeps of an error — passes through a
:class:`Redactor` first. It works on decoded values, so a service that echoes the
key JSON-escaped (``\\/`` or ``\\u0041``) cannot get it past, and it runs before any
text is shortened, so no cut-off piece of the key survives either.
"""

from __future__ import annotations

import json
from typing import Any

from .endpoint import Secret

MASK = "***"
#: Shortest piece of a (long) key that is still removed on its own.
MIN_PIECE = 8


class Redactor:
    """Replaces the key with ``***`` in text and in decoded JSON values.

    >>> r = Redactor(Secret("s3cret"))
    >>> r.text("saw Bearer s3cret"), r.tree({"m": ["s3cret"]})
    ('saw Bearer ***', {'m': ['***']})
    >>> Redactor(None).text("nothing to hide")
    'nothing to hide'
    """

    __slots__ = ("_key",)

    def __init__(self, key: Secret | None) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Redactor(***)" if self._key else "Redactor(None)"

    def text(self, text: str) -> str:
        """``text`` without the key, nor a piece of it cut off by a length limit.

        >>> Redactor(Secret("kw_0123456789abcdef")).text("url 'http://x/kw_0123456789")
        "url 'http://x/***"
        """
        if not self._key:
            return text
        key = self._key.reveal()
        if key in text:
            text = text.replace(key, MASK)
        # Messages shorten long values (``{url!r:.200}``); a key cut there leaves its head
        # (or, cut on the left, its tail): pieces of MIN_PIECE characters or more go too.
        for size in range(len(key) - 1, MIN_PIECE - 1, -1):
            for piece in (key[:size], key[-size:]):
                if piece in text:
                    text = text.replace(piece, MASK)
        return text

    def tree(self, value: Any) -> Any:
        """A copy of a decoded JSON value with the key removed from every string (keys too)."""
        if not self._key:
            return value
        try:
            return self._tree(value)
        except RecursionError:  # nested deeper than anything shown needs
            return "<nested too deeply>"

    def _tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._tree(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self._tree(v) for k, v in value.items()}
        return value

    def body(self, body: bytes, limit: int) -> str:
        """Up to ``limit`` characters of an answer body for a message.

        JSON is shown decoded and re-encoded (escapes resolved, then redacted); other
        bodies as text, redacted before they are shortened.
        """
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            text = body[: limit * 4 + 4096].decode("utf-8", "replace")
        else:
            try:
                text = json.dumps(self.tree(decoded), ensure_ascii=False)
            except (ValueError, RecursionError):
                text = "<unprintable JSON>"
            return self.text(text)[:limit]
        return self.text(text)[:limit]

    def exception(self, exc: BaseException) -> BaseException:
        """``exc`` with the key removed from its message (its data attributes untouched)."""
        if self._key and exc.args:
            exc.args = tuple(self.text(a) if isinstance(a, str) else a for a in exc.args)
        return exc
