"""Moving bytes: one HTTP call described as a :class:`Call`, answered as an :class:`Answer`.

The API calls (:mod:`.api`) speak to a :class:`Transport` and nothing else, so their
logic can be tested without a server (``tests/client/memory.py`` answers calls from a
dict). :class:`HttpTransport` is the real one: one aiohttp session per event loop,
capped reads, time-outs, retries with backoff, jitter and ``Retry-After``, redirects
for downloads (each hop checked), and the unknown-submit rule: a submit that may have
created a task is never resent, it raises :class:`SubmitOutcomeUnknownError`.

It never redacts: bodies come back exactly as sent, and the layer that *shows* text
removes the key from it (see :mod:`.redaction`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import aiohttp
from multidict import CIMultiDict

from .._version import __version__
from ..contract import SYNC_MODE_TIMEOUT_S
from ..errors import ProtocolError, RequestTimeoutError, ServerError, SubmitOutcomeUnknownError
from .redirects import REDIRECT_STATUSES, next_hop, origin, path_of
from .retry import TRANSIENT_STATUSES, RetryPolicy

log = logging.getLogger("kontext_widgets")

#: Header the simulator sets on every answer, so results can say SIMULATED.
SIMULATOR_HEADER = "X-Kontext-Simulator"
#: Largest answer read from the service's own routes (an image download has its own cap).
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: Redirects followed for one download (each checked to stay on http(s)).
MAX_REDIRECTS = 5

Kind = Literal["submit", "get", "upload", "download"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each kind of call. ``wait_s`` bounds a whole prediction.

    >>> Timeouts(request_s=10).request_s
    10
    """

    connect_s: float = 10.0
    request_s: float = 30.0
    #: longest silence while reading an answer: a server that stalls mid-body is cut off
    read_s: float = 30.0
    #: a sync-mode submit stays open while the service works (up to about 90 s)
    sync_submit_s: float = SYNC_MODE_TIMEOUT_S + 30.0
    upload_s: float = 120.0
    download_s: float = 120.0
    wait_s: float = 900.0


@dataclass(frozen=True)
class FilePart:
    """A file sent as a multipart form field (the binary upload)."""

    name: str
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Call:
    """One HTTP call as the API layer wants it made.

    ``kind`` decides the retry rule: ``submit`` is never resent once it may have
    reached the service; ``get``, ``upload`` and ``download`` are retried on
    transient trouble. ``headers`` (which may hold the key) never show in a repr.
    """

    method: str
    url: str
    kind: Kind
    timeout_s: float
    json_body: Any = None
    file: FilePart | None = None
    raw_body: bytes | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    cap_bytes: int = MAX_ANSWER_BYTES
    #: follow redirects (downloads only; the service's own routes never redirect)
    follow_redirects: bool = False
    #: shortest wait before a retry (polls of a remote task keep their 2 s floor)
    min_retry_delay_s: float = 0.0
    sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class Answer:
    """What came back: status, the body exactly as sent, headers, and whether it is simulated."""

    status: int
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    simulated: bool = False
    #: tries it took (more than 1: earlier tries met transient trouble)
    attempts: int = 1

    def json(self) -> Any:
        """The decoded body, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None


class Transport(Protocol):
    """What the API calls need from the network: send one call, and close.

    ``send`` returns every HTTP answer (errors included) and raises only the
    package's own errors (never aiohttp's): :class:`RequestTimeoutError` or
    :class:`ServerError` when no answer came after the allowed retries,
    :class:`ProtocolError` when an answer is over ``call.cap_bytes``, and
    :class:`SubmitOutcomeUnknownError` when a submit may have created a task.
    """

    async def send(self, call: Call) -> Answer: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    """Time limits the transport applies to every call (besides ``Call.timeout_s``)."""

    connect_s: float
    read_s: float


class HttpTransport:
    """The aiohttp transport: a session per event loop, retries as ``retry()`` says.

    ``retry`` and ``limits`` are read on every call (the client's settings may change).

    >>> HttpTransport(lambda: RetryPolicy(), lambda: Limits(10, 30))
    HttpTransport(trust_env=True)
    """

    def __init__(
        self,
        retry: Callable[[], RetryPolicy],
        limits: Callable[[], Limits],
        *,
        trust_env: bool = True,
    ) -> None:
        self._retry = retry
        self._limits = limits
        self._trust_env = trust_env
        self.session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HttpTransport(trust_env={self._trust_env})"

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self.session is None or self.session.closed or self._loop is not loop:
            # A session belongs to one loop; a new loop (e.g. a second asyncio.run) needs a new one.
            limits = self._limits()
            self.session = aiohttp.ClientSession(
                headers={"User-Agent": f"kontext-widgets/{__version__}"},
                trust_env=self._trust_env,
                timeout=aiohttp.ClientTimeout(connect=limits.connect_s, sock_read=limits.read_s),
            )
            self._loop = loop
        return self.session

    async def close(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()
        self.session = None

    async def send(self, call: Call) -> Answer:
        if not call.follow_redirects:
            return await self._send(call)
        current = call.url
        for _hop in range(MAX_REDIRECTS + 1):
            answer = await self._send(_with_url(call, current))
            if answer.status not in REDIRECT_STATUSES:
                return answer
            current = next_hop(call.url, current, answer.headers.get("Location"))
        raise ProtocolError(
            f"download of {call.url!r:.200}: more than {MAX_REDIRECTS} redirects; gave up"
        )

    async def _send(self, call: Call) -> Answer:
        """One call, retried as the contract allows for its kind."""
        policy = self._retry()
        last_problem = ""
        for attempt in range(policy.attempts):
            outcome = await self._attempt(call)
            if isinstance(outcome, Answer):
                if outcome.status not in _retry_statuses(call.kind, policy):
                    return outcome
                if call.kind == "submit" and outcome.status >= 500:
                    raise _unknown(call, f"HTTP {outcome.status}")
                if attempt + 1 == policy.attempts:
                    # The caller turns the last refusal into its error.
                    return replace(outcome, attempts=policy.attempts)
                retry_after = outcome.headers.get("Retry-After")
                last_problem = f"HTTP {outcome.status}"
            else:
                retry_after, last_problem = None, outcome
            if attempt + 1 < policy.attempts:
                delay = max(call.min_retry_delay_s, policy.delay(attempt, retry_after))
                log.info(
                    "%s %s: %s; retrying in %.1f s",
                    call.method,
                    path_of(call.url),
                    last_problem,
                    delay,
                )
                await asyncio.sleep(delay)
        message = f"{last_problem} (gave up after {policy.attempts} tries)"
        if "timed out" in last_problem:
            raise RequestTimeoutError(message)
        raise ServerError(message)

    async def _attempt(self, call: Call) -> Answer | str:
        """One try: the answer, or why there was none (when trying again is safe)."""
        limits = self._limits()
        timeout = aiohttp.ClientTimeout(
            total=call.timeout_s, connect=limits.connect_s, sock_read=limits.read_s
        )
        try:
            async with self._session().request(
                call.method,
                call.url,
                json=call.json_body,
                data=_form(call.file) if call.file is not None else call.raw_body,
                headers=dict(call.headers),
                timeout=timeout,
                # Redirects are followed by send() alone, each hop checked; the key must
                # never follow one.
                allow_redirects=False,
            ) as resp:
                body = await _read_capped(resp, call)
                simulated = bool(resp.headers.get(SIMULATOR_HEADER))
                return Answer(resp.status, body, CIMultiDict(resp.headers), simulated)
        except aiohttp.ClientConnectorError as exc:
            # Never connected, so nothing was sent: safe to try again, even a submit.
            return f"cannot connect to {origin(call.url)}: {exc.os_error.strerror or exc}"
        except aiohttp.ConnectionTimeoutError:
            # Timed out while connecting: nothing was sent either.
            return (
                f"cannot connect to {origin(call.url)}: no connection within {limits.connect_s:g} s"
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if isinstance(exc, asyncio.TimeoutError):
                reason = (
                    f"timed out (no answer within {call.timeout_s:g} s, or no data for "
                    f"{limits.read_s:g} s mid-answer)"
                )
            else:
                reason = _describe(exc)
            if call.kind == "submit":
                raise _unknown(call, reason) from None
            return f"{call.method} {origin(call.url)} {reason}"


def _with_url(call: Call, url: str) -> Call:
    return replace(call, url=url)


def _form(part: FilePart) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(part.name, part.data, filename=part.filename, content_type=part.content_type)
    return form


def _retry_statuses(kind: Kind, policy: RetryPolicy) -> frozenset[int]:
    if kind == "submit":
        # 5xx are listed so they are seen as "outcome unknown", never as a resend.
        return policy.submit_statuses | frozenset({500, 502, 503, 504})
    return TRANSIENT_STATUSES


def _unknown(call: Call, reason: str) -> SubmitOutcomeUnknownError:
    return SubmitOutcomeUnknownError(
        reason,
        payload=call.json_body if isinstance(call.json_body, Mapping) else {},
        sent_at=call.sent_at or dt.datetime.now(dt.timezone.utc),
    )


async def _read_capped(resp: aiohttp.ClientResponse, call: Call) -> bytes:
    """The body, refused as soon as it is known to exceed ``call.cap_bytes``.

    A declared Content-Length over the cap is refused before reading anything; a
    chunked (or compressed) body is counted as it arrives, so no more than the cap
    plus one chunk is ever held. An over-cap *submit* answer is an unknown outcome:
    the task may exist.
    """
    cap = call.cap_bytes
    hint = (
        " (raise Client(max_download_bytes=...) if it is expected)"
        if call.kind == "download"
        else ""
    )
    declared = resp.content_length
    problem = ""
    if declared is not None and declared > cap:
        problem = f"answer from {origin(call.url)} is {declared} bytes; the limit is {cap}{hint}"
    chunks: list[bytes] = []
    size = 0
    if not problem:
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                problem = (
                    f"answer from {origin(call.url)} is over the {cap}-byte limit; "
                    f"stopped reading{hint}"
                )
                break
            chunks.append(chunk)
    if problem and call.kind == "submit":
        raise _unknown(call, problem)
    if problem:
        raise ProtocolError(problem)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed by the server without an answer"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "answer cut off mid-body"
    return f"failed ({type(exc).__name__})"
