"""One typed, validated Kontext request, checked before any I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from . import fields as _fields
from . import images
from .checks import (
    IMAGE_ALLOWED,
    IMAGES_ALLOWED,
    check_image_count,
    is_http_url,
    url_credentials_problem,
)
from .contract import GUIDANCE_DEFAULT, MAX_UPLOAD_BYTES
from .errors import ImageBombError, InvalidRequestError, Problem, UnreadableImageError
from .payload import check_payload, check_unknown_keys

if TYPE_CHECKING:
    from .images import PILImage

#: What a user may pass as one input image.
ImageInput = Union[str, "os.PathLike[str]", bytes, "PILImage", "LocalImage"]

_IMAGE_ALLOWED = (
    "expected an http(s) URL, a path to a readable image file, image bytes or a PIL image"
)


@dataclass(frozen=True)
class LocalImage:
    """Image bytes that must be uploaded before a submit; ``name`` is for display only."""

    data: bytes = field(repr=False)
    name: str
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def filename(self) -> str:
        """A safe file name for the upload: content hash plus the right extension."""
        return self.sha256[:16] + images.extension(self.content_type)


#: One input after normalisation: a URL to send as is, or bytes to upload first.
ImageSource = str | LocalImage


def _sniff(data: bytes, name: str, field_name: str) -> LocalImage | Problem:
    """Check that ``data`` is an image we can upload; never decodes more than the header."""
    if len(data) > MAX_UPLOAD_BYTES:
        return Problem(
            field_name,
            f"{name} ({len(data)} bytes)",
            f"images may be at most {MAX_UPLOAD_BYTES} bytes",
        )
    try:
        kind = images.inspect(data).kind
    except ImageBombError:
        return Problem(field_name, name, _IMAGE_ALLOWED + " (its dimensions are absurdly large)")
    except UnreadableImageError:
        return Problem(field_name, name, _IMAGE_ALLOWED + " (this is not a readable image)")
    if kind is None:
        return Problem(field_name, name, f"image format must be one of {images.FORMAT_NAMES}")
    return LocalImage(data=data, name=name, content_type=kind.mime)


def normalize_image(value: object, field_name: str = "images[0]") -> ImageSource | Problem:
    """Turn one user input into a URL or a :class:`LocalImage`, or say why not."""
    if isinstance(value, LocalImage):
        return value
    if isinstance(value, str) and is_http_url(value):
        return url_credentials_problem(field_name, value) or value
    if isinstance(value, str) and "://" in value:
        return Problem(field_name, value, _IMAGE_ALLOWED + " (only http and https URLs)")
    if isinstance(value, (str, os.PathLike)):
        return _read_file(value, field_name)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            data = bytes(value)
        except (TypeError, ValueError, BufferError) as exc:  # e.g. a released memoryview
            return Problem(field_name, "<bytes>", f"{_IMAGE_ALLOWED} ({exc})")
        return _sniff(data, f"<{len(data)} bytes>", field_name)
    if images.is_pil_image(value):
        try:
            png = images.pil_to_png(value)  # type: ignore[arg-type]
        except UnreadableImageError as exc:
            return Problem(field_name, "<PIL image>", f"{_IMAGE_ALLOWED} ({exc})")
        # Through the same checks as bytes: a huge image must not slip past the upload limit.
        return _sniff(png, "<PIL image>", field_name)
    return Problem(field_name, value, _IMAGE_ALLOWED)


def _read_file(value: str | os.PathLike[str], field_name: str) -> LocalImage | Problem:
    """Read a local image file, refusing before reading what could never be uploaded.

    Only regular files are read (a FIFO or ``/dev/zero`` would block or never end),
    and never more than one byte past the upload limit.
    """
    shown = str(value) if isinstance(value, str) else repr(value)
    try:
        path = Path(value).expanduser()
        if not path.is_file():
            reason = "no such file" if not path.exists() else "not a regular file"
            return Problem(field_name, shown, f"{_IMAGE_ALLOWED} (cannot read file: {reason})")
        with path.open("rb") as handle:
            data = handle.read(MAX_UPLOAD_BYTES + 1)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        # RuntimeError: "~user" with no such user; ValueError: a NUL byte in the path.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Problem(field_name, shown, f"{_IMAGE_ALLOWED} (cannot read file: {reason})")
    if len(data) > MAX_UPLOAD_BYTES:
        return Problem(
            field_name,
            f"{path.name} (over {MAX_UPLOAD_BYTES} bytes)",
            f"images may be at most {MAX_UPLOAD_BYTES} bytes",
        )
    return _sniff(data, path.name, field_name)


@dataclass(frozen=True)
class KontextRequest:
    """A validated request: exactly the settings of :data:`kontext_widgets.fields.FIELDS`.

    ``seed=None`` and ``aspect_ratio=None`` leave the choice to the service.
    Build it with :meth:`build` to get every problem reported at once.

    >>> r = KontextRequest.build(prompt="make it night", images=["https://example.com/a.png"],
    ...                          seed=7, aspect_ratio="16:9")
    >>> r.payload()["seed"], r.needs_upload, r.value("guidance_scale")
    (7, False, 3.5)
    >>> KontextRequest.build(prompt="", images=[], guidance_scale=25)
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: prompt: '' is not allowed; ...
    """

    prompt: str
    images: tuple[ImageSource, ...]
    seed: int | None = None
    guidance_scale: float = GUIDANCE_DEFAULT
    aspect_ratio: str | None = None
    enable_sync_mode: bool = False
    #: ``(name, value)`` of settings declared in the registry that have no attribute here yet:
    #: a new field works at once, read with :meth:`value`
    extra: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        problems = check_unknown_keys(dict(self.extra))
        problems += [
            Problem(name, "<attribute>", "an attribute of the request, not an extra")
            for name, _ in self.extra
            if name in _ATTRIBUTES
        ]
        problems += _scalar_problems({f.name: self.value(f.name) for f in _fields.FIELDS})
        problems += _image_tuple_problems(self.images)
        if problems:
            raise InvalidRequestError(sorted(problems, key=_form_order))

    def value(self, name: str) -> Any:
        """This request's value of the setting ``name`` (its default when not given).

        >>> KontextRequest(prompt="x", images=("https://example.com/a.png",)).value("seed") is None
        True
        """
        if name in _ATTRIBUTES:
            return getattr(self, name)
        for key, value in self.extra:
            if key == name:
                return value
        return _fields.field(name).default

    @classmethod
    def build(cls, /, **given: Any) -> KontextRequest:
        """Validate user input (URLs, paths, bytes, PIL images) into a request.

        Every problem is collected, so a form can show all of them together.
        """
        problems: list[Problem] = check_unknown_keys(given)
        problems += [
            Problem(f.name, None, f.allowed, 1400)
            for f in _fields.FIELDS
            if f.required and f.name not in given
        ]
        images, image_problems = _normalized_images(given)
        problems += image_problems
        if problems:
            # Report the scalar fields too, so one error lists everything wrong, in form order.
            problems += _scalar_problems(given)
            raise InvalidRequestError(sorted(problems, key=_form_order))
        declared = {k: v for k, v in given.items() if k in _ATTRIBUTES and k != "images"}
        extra = tuple((f.name, given[f.name]) for f in _fields.FIELDS if _is_extra(f.name, given))
        return cls(images=tuple(images), extra=extra, **declared)

    @property
    def needs_upload(self) -> bool:
        return any(isinstance(i, LocalImage) for i in self.images)

    @property
    def local_images(self) -> tuple[LocalImage, ...]:
        return tuple(i for i in self.images if isinstance(i, LocalImage))

    def payload(self, image_urls: Sequence[str] | None = None) -> dict[str, Any]:
        """The JSON body to submit; ``image_urls`` replaces the images once uploaded."""
        if image_urls is None:
            if self.needs_upload:
                raise ValueError("local images must be uploaded first: pass their URLs")
            image_urls = [i for i in self.images if isinstance(i, str)]
        body: dict[str, Any] = {}
        for f in _fields.wire_fields():
            value = list(image_urls) if f.name == "images" else self.value(f.name)
            if f.wire and not f.omitted(value):
                body[f.wire] = value
        problems = check_payload(body)
        if problems:
            raise InvalidRequestError(problems)
        return body

    def cache_key(self) -> str:
        """A stable hash of what decides the output: every setting marked ``in_cache_key``.

        Local images count by content. A setting added later is left out at its default,
        so the results stored before it existed are still found.
        """
        doc: dict[str, Any] = {}
        for f in _fields.FIELDS:
            value = self.value(f.name)
            if f.in_cache_key and (f.keyed_at_default or value != f.default):
                doc[f.name] = f.cache(value)
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def describe(self) -> Mapping[str, Any]:
        """The parameters a person compares, for labels and PNG text chunks."""
        return {f.name: f.shown(self.value(f.name)) for f in _fields.FIELDS if f.in_cache_key}


#: The settings with an attribute on :class:`KontextRequest` (the others live in ``extra``).
_ATTRIBUTES = frozenset(f.name for f in dataclasses.fields(KontextRequest)) - {"extra"}


def _is_extra(name: str, given: Mapping[str, Any]) -> bool:
    # At its default an extra is left out, so equal requests compare (and hash) equal.
    return name in given and name not in _ATTRIBUTES and given[name] != _fields.field(name).default


def _form_order(problem: Problem) -> int:
    order = _fields.names()
    base = problem.field.split("[", 1)[0]
    return order.index(base) if base in order else len(order)


def _scalar_problems(given: Mapping[str, Any]) -> list[Problem]:
    """The problems of every given setting but the images (checked on their own)."""
    problems: list[Problem] = []
    for f in _fields.FIELDS:
        if f.name == "images" or f.name not in given or f.omitted(given[f.name]):
            continue
        problems += f.all_problems(given[f.name])
    return problems


def _normalized_images(given: Mapping[str, Any]) -> tuple[list[ImageSource], list[Problem]]:
    raw_images = given.get("images", [])
    if isinstance(raw_images, (str, bytes, os.PathLike)) or not isinstance(raw_images, Iterable):
        return [], [Problem("images", raw_images, IMAGES_ALLOWED + " (a list)")]
    raw_list = list(raw_images)
    count = check_image_count(len(raw_list)) if "images" in given else None
    if count:
        # With the wrong count, reading each file would only bury the real reason.
        return [], [count]
    images: list[ImageSource] = []
    problems: list[Problem] = []
    for i, raw in enumerate(raw_list):
        got = normalize_image(raw, f"images[{i}]")
        if isinstance(got, Problem):
            problems.append(got)
        else:
            images.append(got)
    return images, problems


def _image_tuple_problems(images: object) -> list[Problem]:
    if not isinstance(images, tuple):
        return [Problem("images", images, IMAGES_ALLOWED + " (a tuple)")]
    count = check_image_count(len(images))
    return (
        ([count] if count else [])
        + [
            Problem(f"images[{i}]", img, IMAGE_ALLOWED + " or a LocalImage")
            for i, img in enumerate(images)
            if not (isinstance(img, LocalImage) or is_http_url(img))
        ]
        + [p for i, img in enumerate(images) if (p := url_credentials_problem(f"images[{i}]", img))]
    )
