"""The widget's outputs: a record per output key, thumbnails, and the answers that send bytes.

Full-size images stay here in Python; the front end gets thumbnails, and full-size bytes
only when it asks (``fetch_full``, ``fetch_input``). Sweep cells' outputs stay in the
store until asked for, then are adopted like the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..contract import Status
from ..errors import InvalidRequestError, Problem
from ..images import thumbnail_data_uri
from ..inputs import InputImage
from ..prediction import OutputImage, Prediction, output_key
from ..request import KontextRequest
from ..store import Store

__all__ = ["Output", "Outputs", "SweepOutput", "file_name", "image_name", "mime_of"]

_MIME_EXT: Final = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}

Answer = tuple[dict[str, Any], list[bytes]]


@dataclass(frozen=True)
class Output:
    """One output image the widget made (or was given), by key."""

    key: str
    prediction: Prediction
    index: int
    label: str
    inputs: tuple[InputImage, ...]

    @property
    def image(self) -> OutputImage:
        return self.prediction.images[self.index]


@dataclass(frozen=True)
class SweepOutput:
    """An output of a sweep cell: in the store until the front end asks for it."""

    store: Store
    sha: str
    prediction_id: str
    label: str
    request: KontextRequest
    inputs: tuple[InputImage, ...]
    simulated: bool


class Outputs:
    """Output records by key, with their thumbnails (made once).

    >>> outputs = Outputs()
    >>> outputs.record("nope:0", 0)
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: key: 'nope:0' is not allowed; ...
    >>> outputs.full_answer("r1", "nope:0")[0]["error"]  # doctest: +ELLIPSIS
    "key: 'nope:0' is not allowed; ..."
    """

    def __init__(self) -> None:
        self.records: dict[str, Output] = {}
        self.thumbs: dict[str, str] = {}
        self.sweep: dict[str, SweepOutput] = {}
        self.sweep_thumbs: dict[str, str] = {}

    def add_prediction(
        self, prediction: Prediction, label: str, inputs: tuple[InputImage, ...]
    ) -> None:
        """Register every output image of a completed prediction."""
        for index in range(len(prediction.images)):
            key = output_key(prediction.id, index)
            if key not in self.records:
                self.records[key] = Output(key, prediction, index, label, inputs)

    def record(self, output: Prediction | str, index: int) -> Output:
        """The record of an output key or of a prediction's image ``index``."""
        if isinstance(output, Prediction):
            return self._of_prediction(output, index)
        record = self.records.get(output) if isinstance(output, str) else None
        if record is None and isinstance(output, str) and output in self.sweep:
            record = self._adopt_sweep_output(output)
        if record is None:
            raise InvalidRequestError(
                [
                    Problem(
                        "key",
                        output,
                        "expected the key of an output of this widget ('<prediction id>:<index>')",
                    )
                ]
            )
        return record

    def _of_prediction(self, output: Prediction, index: int) -> Output:
        key = output_key(output.id, index)
        if key not in self.records:
            if output.status is not Status.COMPLETED or not 0 <= index < len(output.images):
                raise InvalidRequestError(
                    [Problem("output", output.id, "expected a completed prediction's image")]
                )
            # A prediction made elsewhere (e.g. with kw.Client): adopt it.
            self.records[key] = Output(key, output, index, f"prediction {output.id}", ())
        return self.records[key]

    def _adopt_sweep_output(self, key: str) -> Output:
        """A sweep cell's output as the widget's other outputs are (read from the store once)."""
        made = self.sweep[key]
        try:
            data = made.store.read_image(made.sha)
        except OSError as exc:
            raise InvalidRequestError(
                [Problem("key", key, f"an output whose image is in the sweep store ({exc})")]
            ) from None
        prediction = Prediction(
            id=made.prediction_id,
            status=Status.COMPLETED,
            images=(OutputImage(url="", data=data),),
            request=made.request,
            simulated=made.simulated,
        )
        record = Output(key, prediction, 0, made.label, made.inputs)
        self.records[key] = record
        return record

    def thumb(self, record: Output) -> str:
        thumb = self.thumbs.get(record.key)
        if thumb is None:
            thumb = thumbnail_data_uri(record.image.data)
            self.thumbs[record.key] = thumb
        return thumb

    # -- answers to the front end -------------------------------------------------------------

    def full_answer(self, request_id: str, key: object) -> Answer:
        """The ``fetch_full`` answer: the full-size bytes of an output, or why not."""
        try:
            record = self.record(str(key), 0)
        except InvalidRequestError as exc:
            return {"type": "full", "request_id": request_id, "error": str(exc)}, []
        image = record.image
        mime = mime_of(image.data)
        answer = {
            "type": "full",
            "request_id": request_id,
            "mime": mime,
            "name": file_name(record, mime),
        }
        return answer, [image.data]


def input_answer(request_id: str, index: object, items: Sequence[InputImage]) -> Answer:
    """The ``fetch_input`` answer: an input image's bytes (or its URL), or why not.

    >>> input_answer("r", 3, [])[0]["error"]
    'no input image at index 3 (0 input images)'
    """
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
        error = f"no input image at index {index!r} ({len(items)} input images)"
        return {"type": "full", "request_id": request_id, "error": error}, []
    item = items[index]
    if isinstance(item.source, str):  # a URL: the browser loads it itself
        return {"type": "full", "request_id": request_id, "url": item.source}, []
    answer = {
        "type": "full",
        "request_id": request_id,
        "mime": item.source.content_type,
        "name": item.name,
    }
    return answer, [item.source.data]


def mime_of(data: bytes) -> str:
    """The image type by its first bytes.

    >>> mime_of(b"\\x89PNG...."), mime_of(b"nope")
    ('image/png', 'application/octet-stream')
    """
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def file_name(record: Output, mime: str) -> str:
    """The download name of an output: ``kontext-<id>-seed<seed>.png``."""
    request = record.prediction.request
    seed = f"-seed{request.seed}" if request and request.seed is not None else ""
    safe_id = re.sub(r"[^A-Za-z0-9]", "", record.prediction.id)[:12] or "output"
    index = f"-{record.index + 1}" if len(record.prediction.images) > 1 else ""
    return f"kontext-{safe_id}{seed}{index}{_MIME_EXT.get(mime, '.img')}"


def image_name(record: Output) -> str:
    """The name an output gets in the input list when it is used as an input."""
    short = re.sub(r"[^A-Za-z0-9]", "", record.prediction.id)[:6]
    return f"{record.label} · {short}" if short else record.label
