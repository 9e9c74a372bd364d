"""One typed, validated Kontext request, checked before any I/O."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .contract import GUIDANCE_DEFAULT, MAX_UPLOAD_BYTES
from .errors import InvalidRequestError, Problem
from .payload import (
    ALLOWED,
    check_aspect_ratio,
    check_guidance,
    check_image_count,
    check_payload,
    check_prompt,
    check_seed,
    check_sync_mode,
    check_unknown_keys,
    is_http_url,
)

if TYPE_CHECKING:
    from PIL import Image

#: What a user may pass as one input image.
ImageInput = Union[str, "os.PathLike[str]", bytes, "Image.Image", "LocalImage"]

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
        ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(
            self.content_type, ".img"
        )
        return self.sha256[:16] + ext


#: One input after normalisation: a URL to send as is, or bytes to upload first.
ImageSource = str | LocalImage

_FORMAT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def _sniff(data: bytes, name: str, field_name: str) -> LocalImage | Problem:
    """Check that ``data`` is an image we can upload; never decodes more than the header."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_UPLOAD_BYTES:
        return Problem(
            field_name,
            f"{name} ({len(data)} bytes)",
            f"images may be at most {MAX_UPLOAD_BYTES} bytes",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return Problem(field_name, name, _IMAGE_ALLOWED + " (this is not a readable image)")
    except Image.DecompressionBombWarning:
        return Problem(field_name, name, _IMAGE_ALLOWED + " (its dimensions are absurdly large)")
    except Exception:  # Pillow raises many kinds for junk input
        return Problem(field_name, name, _IMAGE_ALLOWED + " (this is not a readable image)")
    if fmt not in _FORMAT_TYPES:
        return Problem(field_name, name, "image format must be one of PNG, JPEG, WebP, GIF")
    return LocalImage(data=data, name=name, content_type=_FORMAT_TYPES[fmt])


def normalize_image(value: object, field_name: str = "images[0]") -> ImageSource | Problem:
    """Turn one user input into a URL or a :class:`LocalImage`, or say why not."""
    if isinstance(value, LocalImage):
        return value
    if isinstance(value, str) and is_http_url(value):
        return value
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
    from PIL import Image

    if isinstance(value, Image.Image):
        buf = io.BytesIO()
        try:
            image = (
                value if value.mode in ("RGB", "RGBA", "L", "LA", "P") else value.convert("RGBA")
            )
            image.save(buf, format="PNG")
        except (OSError, ValueError, TypeError, SystemError) as exc:  # empty, or an odd mode
            reason = f"this PIL image cannot be saved as PNG: {exc}"
            return Problem(field_name, "<PIL image>", f"{_IMAGE_ALLOWED} ({reason})")
        # Through the same checks as bytes: a huge image must not slip past the upload limit.
        return _sniff(buf.getvalue(), "<PIL image>", field_name)
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
    """A validated request: exactly the contract's fields.

    ``seed=None`` and ``aspect_ratio=None`` leave the choice to the service.
    Build it with :meth:`build` to get every problem reported at once.

    >>> r = KontextRequest.build(prompt="make it night", images=["https://example.com/a.png"],
    ...                          seed=7, aspect_ratio="16:9")
    >>> r.payload()["seed"], r.needs_upload
    (7, False)
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

    def __post_init__(self) -> None:
        problems = _field_problems(
            self.prompt,
            self.images,
            self.seed,
            self.guidance_scale,
            self.aspect_ratio,
            self.enable_sync_mode,
        )
        if problems:
            raise InvalidRequestError(problems)

    @classmethod
    def build(cls, /, **fields: Any) -> KontextRequest:
        """Validate user input (URLs, paths, bytes, PIL images) into a request.

        Every problem is collected, so a form can show all of them together.
        """
        problems: list[Problem] = check_unknown_keys(fields)
        for name in ("prompt", "images"):
            if name not in fields:
                problems.append(Problem(name, None, ALLOWED[name], 1400))
        images: list[ImageSource] = []
        raw_images = fields.get("images", [])
        if isinstance(raw_images, (str, bytes, os.PathLike)) or not isinstance(
            raw_images, Iterable
        ):
            problems.append(Problem("images", raw_images, ALLOWED["images"] + " (a list)"))
        else:
            raw_list = list(raw_images)
            count = check_image_count(len(raw_list)) if "images" in fields else None
            if count:
                problems.append(count)
            # With the wrong count, reading each file would only bury the real reason.
            for i, raw in enumerate([] if count else raw_list):
                got = normalize_image(raw, f"images[{i}]")
                if isinstance(got, Problem):
                    problems.append(got)
                else:
                    images.append(got)
        if problems:
            # Report the scalar fields too, so one error lists everything wrong, in form order.
            problems += _scalar_problems(fields)
            raise InvalidRequestError(sorted(problems, key=_form_order))
        known = {k: v for k, v in fields.items() if k != "images"}
        return cls(images=tuple(images), **known)

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
        body: dict[str, Any] = {
            "prompt": self.prompt,
            "images": list(image_urls),
            "guidance_scale": self.guidance_scale,
            "enable_sync_mode": self.enable_sync_mode,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if self.aspect_ratio is not None:
            body["aspect_ratio"] = self.aspect_ratio
        problems = check_payload(body)
        if problems:
            raise InvalidRequestError(problems)
        return body

    def cache_key(self) -> str:
        """A stable hash of what decides the output (local images by content)."""
        doc = {
            "prompt": self.prompt,
            "images": [i if isinstance(i, str) else "sha256:" + i.sha256 for i in self.images],
            "seed": self.seed,
            "guidance_scale": float(self.guidance_scale),
            "aspect_ratio": self.aspect_ratio,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def describe(self) -> Mapping[str, Any]:
        """The parameters a person compares, for labels and PNG text chunks."""
        return {
            "prompt": self.prompt,
            "images": [i if isinstance(i, str) else i.name for i in self.images],
            "seed": self.seed,
            "guidance_scale": self.guidance_scale,
            "aspect_ratio": self.aspect_ratio,
        }


_ORDER = ("prompt", "images", "seed", "guidance_scale", "aspect_ratio", "enable_sync_mode")


def _form_order(problem: Problem) -> int:
    base = problem.field.split("[", 1)[0]
    return _ORDER.index(base) if base in _ORDER else len(_ORDER)


def _scalar_problems(fields: Mapping[str, Any]) -> list[Problem]:
    checks = {
        "prompt": check_prompt,
        "seed": lambda v: None if v is None else check_seed(v),
        "guidance_scale": check_guidance,
        "aspect_ratio": lambda v: None if v is None else check_aspect_ratio(v),
        "enable_sync_mode": check_sync_mode,
    }
    return [p for name, check in checks.items() if name in fields and (p := check(fields[name]))]


def _field_problems(
    prompt: object,
    images: object,
    seed: object,
    guidance: object,
    aspect_ratio: object,
    sync: object,
) -> list[Problem]:
    problems = _scalar_problems(
        {
            "prompt": prompt,
            "seed": seed,
            "guidance_scale": guidance,
            "aspect_ratio": aspect_ratio,
            "enable_sync_mode": sync,
        }
    )
    if not isinstance(images, tuple):
        problems.insert(1, Problem("images", images, ALLOWED["images"] + " (a tuple)"))
    else:
        count = check_image_count(len(images))
        problems[1:1] = [count] if count else []
        problems += [
            Problem(f"images[{i}]", img, ALLOWED["image"] + " or a LocalImage")
            for i, img in enumerate(images)
            if not (isinstance(img, LocalImage) or is_http_url(img))
        ]
    return problems
