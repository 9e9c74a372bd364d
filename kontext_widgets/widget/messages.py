"""The front end's custom messages: one handler each, registered by name, never raising.

Handlers only check input and start work (anywidget's browser side gives up on answers
after about 3 s); problems go to the ``error``/``problems`` traits, and answers that
carry bytes (``full``, ``code``) go back by ``request_id``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from ..engine.cells import describe_error
from ..errors import InvalidRequestError, Problem
from ..sweeps.plan import BudgetExceededError
from .host import Host, refuse, touch
from .outputs import input_answer
from .runs import Runs
from .sweep_axes import MODES
from .sweep_runs import Sweeps

__all__ = ["HANDLERS", "MessageHost", "dispatch"]

log = logging.getLogger("kontext_widgets")


class MessageHost(Host, Protocol):
    """The widget, as its message handlers use it."""

    def cancel(self) -> None: ...
    def remove_image(self, image: str) -> None: ...
    def move_image(self, image: str, to: int) -> None: ...
    def use_as_input(self, output: Any, *, index: int = 0, replace: bool = False) -> Any: ...
    def code_for(self, key: Any) -> str: ...
    def show_older_runs(self) -> int: ...

    _runs: Runs
    _sweeps: Sweeps


Handler = Callable[[MessageHost, Mapping[str, Any], list[bytes]], None]


def _generate(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    # Problems are already in the `problems` trait, where the front end shows them.
    with contextlib.suppress(InvalidRequestError, BudgetExceededError):
        if w.mode == "sweep":
            w._sweeps.start()
        elif w.mode == "single":
            w._runs.start(fresh=content.get("fresh") is True)
        else:
            touch(w)
            refuse(w, [Problem("mode", w.mode, "expected " + " or ".join(map(repr, MODES)))])


def _retry_failed(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    try:
        w._sweeps.start_retry()
    except RuntimeError as exc:
        w.error = str(exc)


def _cancel(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    touch(w)
    w.cancel()


def _add_url(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    touch(w)
    url = content.get("url")
    w._inputs.add_url(url.strip() if isinstance(url, str) else url)  # type: ignore[arg-type]
    w.images = w._inputs.trait()


def _add_files(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    touch(w)
    names = content.get("names")
    if not isinstance(names, list) or len(names) != len(buffers):
        # A malformed message is bad input, not a failure of ours: shown, not logged.
        w.error = (
            f"add_files: got {len(buffers)} file(s) but names {names!r:.200}; "
            "expected one name per file"
        )
        return
    refused: list[str] = []
    for name, data in zip(names, buffers, strict=True):
        try:
            w._inputs.add_file(data, str(name))
        except InvalidRequestError as exc:
            refused.append(str(exc))  # keep the files that fit; say why the others did not
    w.images = w._inputs.trait()
    if refused:
        w.error = "; ".join(refused)


def _remove_image(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    w.remove_image(str(content.get("id")))


def _move_image(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    w.move_image(str(content.get("id")), content.get("to"))  # type: ignore[arg-type]


def _use_as_input(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    w.use_as_input(str(content.get("key")))


def _fetch_full(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    answer, data = w._outputs.full_answer(str(content.get("request_id", "")), content.get("key"))
    w.send(answer, data)


def _fetch_input(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    request_id = str(content.get("request_id", ""))
    answer, data = input_answer(request_id, content.get("index"), w._inputs.items)
    w.send(answer, data)


def _copy_code(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    request_id = str(content.get("request_id", ""))
    try:
        code = w.code_for(str(content.get("key")))
    except InvalidRequestError as exc:
        w.send({"type": "code", "request_id": request_id, "error": str(exc)})
        return
    w.send({"type": "code", "request_id": request_id, "code": code})


def _show_older(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    w.show_older_runs()


def _frontend_error(w: MessageHost, content: Mapping[str, Any], buffers: list[bytes]) -> None:
    message = str(content.get("message") or "unknown error")
    log.error("front end error: %s", message)
    w.error = f"Front end error: {message[:2000]}"


HANDLERS: Final[Mapping[str, Handler]] = {
    "generate": _generate,
    "retry_failed": _retry_failed,
    "cancel": _cancel,
    "add_url": _add_url,
    "add_files": _add_files,
    "remove_image": _remove_image,
    "move_image": _move_image,
    "use_as_input": _use_as_input,
    "fetch_full": _fetch_full,
    "fetch_input": _fetch_input,
    "copy_code": _copy_code,
    "frontend_error": _frontend_error,
    "show_older": _show_older,
}


def dispatch(w: MessageHost, content: object, buffers: list[bytes]) -> bool:
    """Handle one of our messages; False when it is not ours (anywidget's own, or unknown).

    Nothing raises out of here (ipywidgets would only log it): problems go to ``error``.
    """
    kind = content.get("type") if isinstance(content, Mapping) else None
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        if isinstance(content, Mapping) and "type" in content:
            w.error = f"unknown message from the front end: type {kind!r}"
        return False
    assert isinstance(content, Mapping)
    try:
        handler(w, content, buffers)
    except InvalidRequestError as exc:
        w.error = str(exc)
    except Exception as exc:
        log.exception("handling %r from the front end failed", kind)
        w.error = describe_error(exc)
    return True
