"""The widget's input images: up to five, in order, full-size bytes kept in Python.

The front end only ever sees :meth:`InputList.trait`: an id, a name, the kind and
a ``src`` that is the URL itself for URLs and a small JPEG thumbnail otherwise.
Local files stay here as :class:`~kontext_widgets.request.LocalImage` bytes until
a Generate uploads them (once per content: the client remembers uploads).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from ._text import shorten
from .checks import url_credentials_problem
from .contract import MAX_IMAGES
from .errors import InvalidRequestError, Problem
from .images import image_size, thumbnail_data_uri
from .payload import ALLOWED, is_http_url
from .request import ImageSource, LocalImage, normalize_image

__all__ = ["FULL_REASON", "ImageKind", "InputImage", "InputList", "image_size"]

ImageKind = Literal["url", "file", "output"]

#: Why one more image is refused (the front end says the same).
FULL_REASON = f"at most {MAX_IMAGES} images: remove one first"


@dataclass(frozen=True)
class InputImage:
    """One input: a URL to send as is, or local bytes (a file or an earlier output)."""

    id: str
    name: str
    kind: ImageKind
    source: ImageSource
    #: a small JPEG data URI; empty for URLs (the browser loads those itself)
    thumb: str = dataclasses.field(default="", repr=False)
    #: the path the user gave, so "Copy Python call" can name it
    path: str | None = None
    #: (width, height) as shown (EXIF rotation applied); None until known (URLs)
    size: tuple[int, int] | None = None
    #: the output key of an earlier edit (kind "output")
    key: str | None = None

    @property
    def ref(self) -> str:
        """How the history names this input: the output's key, else its name."""
        return self.key or self.name

    def trait(self) -> dict[str, str]:
        src = self.source if isinstance(self.source, str) else self.thumb
        return {"id": self.id, "name": self.name, "kind": self.kind, "src": src}


def _url_name(url: str) -> str:
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return last or parts.hostname or url


class InputList:
    """The ordered input images (at most five), each with a stable id.

    Every refusal raises :class:`~kontext_widgets.errors.InvalidRequestError`
    naming the field, the value and what is allowed, and changes nothing.

    >>> from kontext_widgets import samples
    >>> images = InputList()
    >>> first = images.add(samples.path("person"))
    >>> images.add_url("https://example.com/shoes.png").name
    'shoes.png'
    >>> [(i["kind"], i["src"][:15]) for i in images.trait()]
    [('file', 'data:image/jpeg'), ('url', 'https://example')]
    >>> images.move(first.id, 1)
    >>> [i.name for i in images]
    ['shoes.png', 'person.png']
    """

    def __init__(self) -> None:
        self._items: list[InputImage] = []
        self._count = 0

    def __iter__(self) -> Iterator[InputImage]:
        return iter(tuple(self._items))

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> tuple[InputImage, ...]:
        return tuple(self._items)

    def trait(self) -> list[dict[str, str]]:
        """The ``images`` trait: ids, names, kinds and URLs or thumbnails (never full size)."""
        return [item.trait() for item in self._items]

    # -- adding -----------------------------------------------------------------------------

    def add(self, value: object, *, name: str | None = None) -> InputImage:
        """Append a URL, a path, image bytes or a PIL image (checked like a request's images)."""
        field = f"images[{len(self._items)}]"
        self._check_room(name or _describe(value))
        source = normalize_image(value, field)
        if isinstance(source, Problem):
            raise InvalidRequestError([source])
        if isinstance(source, str):
            return self._append_url(source, name)
        path = str(value) if isinstance(value, (str, os.PathLike)) else None
        return self._append_local(source, name or source.name, "file", path=path)

    def add_url(self, url: str) -> InputImage:
        """Append an http(s) URL (nothing is fetched: the service fetches it)."""
        self._check_room(str(url))
        if not is_http_url(url):
            raise InvalidRequestError(
                [Problem("images", url, ALLOWED["image"] + " (http:// or https://)")]
            )
        if found := url_credentials_problem("images", url):
            raise InvalidRequestError([found])  # refused: a password would be kept and shown
        return self._append_url(url, None)

    def add_file(self, data: bytes, name: str) -> InputImage:
        """Append the bytes of a file picked in the browser (checked to be an image ≤ 20 MB)."""
        self._check_room(name)
        source = normalize_image(bytes(data), "images")
        if isinstance(source, Problem):
            # normalize_image names bytes by their length; the person knows the file name.
            raise InvalidRequestError(
                [dataclasses.replace(source, value=name, shown=f"{name} ({len(data)} bytes)")]
            )
        assert isinstance(source, LocalImage)
        return self._append_local(source, name, "file")

    def add_output(self, data: bytes, name: str, key: str, thumb: str = "") -> InputImage:
        """Append an output of an earlier edit (its bytes are uploaded at the next Generate)."""
        self._check_room(name)
        source = normalize_image(data, "images")
        if isinstance(source, Problem):
            raise InvalidRequestError([dataclasses.replace(source, value=key)])
        assert isinstance(source, LocalImage)
        return self._append_local(source, name, "output", key=key, thumb=thumb)

    def _check_room(self, what: str) -> None:
        if len(self._items) >= MAX_IMAGES:
            raise InvalidRequestError(
                [
                    Problem(
                        "images",
                        what,
                        FULL_REASON,
                        shown=f"image {len(self._items) + 1} ({shorten(what, 60)})",
                    )
                ]
            )

    def _append_url(self, url: str, name: str | None) -> InputImage:
        item = InputImage(
            id=self._new_id(), name=self._unique(name or _url_name(url)), kind="url", source=url
        )
        self._items.append(item)
        return item

    def _append_local(
        self,
        source: LocalImage,
        name: str,
        kind: ImageKind,
        *,
        path: str | None = None,
        key: str | None = None,
        thumb: str = "",
    ) -> InputImage:
        unique = self._unique(name)
        item = InputImage(
            id=self._new_id(),
            name=unique,
            kind=kind,
            source=dataclasses.replace(source, name=unique),
            thumb=thumb or thumbnail_data_uri(source.data),
            path=path,
            size=image_size(source.data),
            key=key,
        )
        self._items.append(item)
        return item

    def _new_id(self) -> str:
        self._count += 1
        return f"img{self._count}"

    def _unique(self, name: str) -> str:
        # Names label the per-image buttons ("Remove NAME"), so two equal names would be ambiguous.
        name = " ".join(str(name).split()) or "image"
        taken = {item.name for item in self._items}
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name} ({n})"
        return candidate

    # -- changing ---------------------------------------------------------------------------

    def find(self, image_id: str) -> InputImage:
        for item in self._items:
            if item.id == image_id:
                return item
        known = ", ".join(f"{i.id} ({i.name})" for i in self._items) or "none"
        raise InvalidRequestError(
            [
                Problem(
                    "images", image_id, f"expected the id of an input image; the ids are: {known}"
                )
            ]
        )

    def remove(self, image_id: str) -> InputImage:
        item = self.find(image_id)
        self._items.remove(item)
        return item

    def move(self, image_id: str, to: int) -> None:
        """Move an image to position ``to`` (0-based; clamped to the list)."""
        item = self.find(image_id)
        if isinstance(to, bool) or not isinstance(to, int):
            raise InvalidRequestError(
                [Problem("images", to, "expected a position: an integer from 0")]
            )
        self._items.remove(item)
        self._items.insert(max(0, min(to, len(self._items))), item)

    def clear(self) -> None:
        self._items.clear()

    def copy(self) -> InputList:
        """An independent list with the same images (ids keep counting from here)."""
        other = InputList()
        other._items, other._count = list(self._items), self._count
        return other

    def replace_all(self, values: Iterable[object]) -> None:
        """Replace every image at once; on any problem nothing changes (all are reported)."""
        fresh = InputList()
        fresh._count = self._count  # new ids never repeat old ones
        raw = list(values)
        problems: list[Problem] = []
        if len(raw) > MAX_IMAGES:
            raise InvalidRequestError(
                [Problem("images", len(raw), ALLOWED["images"], shown=f"{len(raw)} images")]
            )
        for index, value in enumerate(raw):
            try:
                fresh.add(value)
            except InvalidRequestError as exc:
                # Name the position in what the caller passed, not in what was kept so far.
                problems += [dataclasses.replace(p, field=f"images[{index}]") for p in exc.problems]
        if problems:
            raise InvalidRequestError(problems)
        self._items, self._count = fresh._items, fresh._count


def _describe(value: object) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (str, os.PathLike)):
        return Path(value).name if not is_http_url(value) else str(value)
    return type(value).__name__
