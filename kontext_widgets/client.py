"""The async WaveSpeed client: submit, poll, sync mode, uploads, downloads, balance.

One :class:`aiohttp.ClientSession` per client and event loop; retries exactly as
the contract's error table says; a time-out on every call; a concurrency limit;
the key sent only to the configured base URL and never shown anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import aiohttp
from multidict import CIMultiDict

from ._version import __version__
from .contract import (
    BALANCE_PATH,
    LIST_PATH,
    MAX_UPLOAD_BYTES,
    RESULT_PATH,
    SUBMIT_PATH,
    SYNC_MODE_TIMEOUT_S,
    UPLOAD_BINARY_PATH,
    UPLOAD_TICKET_PATH,
    Code,
    Status,
)
from .endpoint import Endpoint, resolve
from .errors import (
    AccountError,
    AuthenticationError,
    InvalidRequestError,
    OutputUnavailableError,
    ParameterRejectedError,
    PredictionNotFoundError,
    PredictionTimeoutError,
    Problem,
    ProtocolError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ServiceError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from .payload import is_http_url
from .polling import DurationEstimate, PollPolicy
from .prediction import OutputImage, Prediction, finite_number
from .request import ImageInput, KontextRequest, LocalImage, normalize_image
from .retry import TRANSIENT_STATUSES, RetryPolicy

log = logging.getLogger("kontext_widgets")

#: Header the simulator sets on every answer, so results can say SIMULATED.
SIMULATOR_HEADER = "X-Kontext-Simulator"

OnUpdate = Callable[[Prediction], None]
#: What a prediction id may look like before it goes into a URL path.
_PREDICTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_Kind = Literal["submit", "get", "upload", "download"]


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


#: Output images with more pixels than this are refused from their header, before decoding
#: (a small file can declare absurd dimensions: a decompression bomb).
MAX_OUTPUT_PIXELS = 50_000_000
#: Redirects followed for one download (each checked to stay on http(s)).
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None

    def envelope(self, what: str) -> Any:
        """The JSON body, or a ProtocolError saying the answer is not JSON at all."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            start = self.body[:80].decode("utf-8", "replace")
            raise ProtocolError(
                f"{what}: the answer (HTTP {self.status}, {len(self.body)} bytes) is not JSON; "
                f"it starts with {start!r}"
            ) from None


class Client:
    """Talks to FLUX.1 Kontext [pro] Multi on WaveSpeed, or to the offline simulator.

    With no key (argument or ``WAVESPEED_API_KEY``) it starts the simulator on
    127.0.0.1 and every result says SIMULATED; nothing is sent to the real service.

    >>> import asyncio, kontext_widgets as kw
    >>> async def main() -> str:
    ...     async with kw.Client() as client:
    ...         person = kw.samples.path("person")
    ...         p = await client.run(prompt="make it night", images=[person], seed=1)
    ...         return p.status.value
    >>> asyncio.run(main())
    'completed'
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        max_concurrency: int = 2,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        max_download_bytes: int = 64 * 1024 * 1024,
        max_output_pixels: int = MAX_OUTPUT_PIXELS,
        upload_method: Literal["binary", "ticket"] = "binary",
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise TypeError(f"max_concurrency: {max_concurrency!r} is not an integer")
        if max_concurrency < 1:
            raise ValueError(
                f"max_concurrency: {max_concurrency} is not allowed; expected 1 or more"
            )
        if upload_method not in ("binary", "ticket"):
            raise ValueError(
                f"upload_method: {upload_method!r} is not allowed; expected 'binary' or 'ticket'"
            )
        self._endpoint: Endpoint = resolve(api_key, base_url)
        self.max_concurrency = max_concurrency
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        # A remote service gets gentler polling than a simulator on this machine.
        self.poll = poll or (
            PollPolicy() if self._endpoint.is_local else PollPolicy(min_interval_s=0.5, first_s=0.5)
        )
        self.max_download_bytes = max_download_bytes
        self.max_output_pixels = max_output_pixels
        self.upload_method = upload_method
        self.duration = DurationEstimate()
        self._http: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._uploaded: dict[str, str] = {}
        self._uploading: dict[str, asyncio.Future[str]] = {}
        self._seen_simulator_header = False

    # -- identity ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._endpoint.base_url

    @property
    def simulated(self) -> bool:
        """True when the answers come from the offline simulator, not the real model."""
        return self._endpoint.simulated or self._seen_simulator_header

    @property
    def has_key(self) -> bool:
        """True when an API key is configured (the key itself is never exposed)."""
        return bool(self._endpoint.api_key)

    @property
    def scope(self) -> str:
        """Which service answers, for caches: the auto-started simulator, or the base URL."""
        return "simulator" if self._endpoint.simulated else self.base_url

    def describe(self) -> str:
        """One line saying where requests go (never the key)."""
        return self._endpoint.describe()

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self.base_url!r}, simulated={self.simulated}, "
            f"max_concurrency={self.max_concurrency})"
        )

    # -- session ----------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http.closed or self._loop is not loop:
            # A session belongs to one loop; a new loop (e.g. a second asyncio.run) needs a new one.
            self._http = aiohttp.ClientSession(
                headers={"User-Agent": f"kontext-widgets/{__version__}"},
                trust_env=not self._endpoint.simulated,
                timeout=aiohttp.ClientTimeout(
                    total=self.timeouts.request_s,
                    connect=self.timeouts.connect_s,
                    sock_read=self.timeouts.read_s,
                ),
            )
            self._loop = loop
            self._slots = asyncio.Semaphore(self.max_concurrency)
        return self._http

    def _semaphore(self) -> asyncio.Semaphore:
        self._session()
        assert self._slots is not None
        return self._slots

    async def close(self) -> None:
        """Close the HTTP session (the client reopens one if used again)."""
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the one-call API -------------------------------------------------------------------

    async def run(
        self,
        request: KontextRequest | None = None,
        /,
        *,
        download: bool = True,
        raise_on_failure: bool = True,
        on_update: OnUpdate | None = None,
        **fields: Any,
    ) -> Prediction:
        """Validate, upload local images, submit, wait, and download the output.

        Pass a :class:`KontextRequest` or the contract's fields as keywords
        (``prompt``, ``images``, ``seed``, ``guidance_scale``, ``aspect_ratio``,
        ``enable_sync_mode``). A failed task raises :class:`TaskFailedError`
        unless ``raise_on_failure=False``. ``on_update`` sees every status change.
        """
        if request is None:
            request = KontextRequest.build(**fields)
        elif fields:
            raise InvalidRequestError(
                [
                    Problem(k, v, "pass either a KontextRequest or fields, not both")
                    for k, v in fields.items()
                ]
            )
        async with self._semaphore():
            submitted = await self.submit(request)
            _notify(on_update, submitted)
            prediction = submitted
            if not submitted.finished:
                prediction = await self.wait(submitted.id, on_update=on_update, submitted=submitted)
        prediction = prediction.with_local(request=request, simulated=self.simulated)
        if prediction.status is Status.FAILED:
            if raise_on_failure:
                raise _task_failed(prediction)
            return prediction
        if download:
            prediction = await self.download_outputs(prediction)
        return prediction

    # -- submit -----------------------------------------------------------------------------

    async def submit(self, request: KontextRequest) -> Prediction:
        """Upload local images, then submit once; return the created (sync mode: done) prediction.

        A submit that gets no usable answer raises :class:`SubmitOutcomeUnknownError`
        and is never resent: the task may exist and be billed.
        """
        urls = [await self.upload(i) if isinstance(i, LocalImage) else i for i in request.images]
        payload = request.payload(urls)
        timeout = (
            self.timeouts.sync_submit_s if request.enable_sync_mode else self.timeouts.request_s
        )
        sent_at = dt.datetime.now(dt.timezone.utc)
        answer = await self._send(
            "POST",
            SUBMIT_PATH,
            kind="submit",
            json_body=payload,
            timeout_s=timeout,
            sent_at=sent_at,
        )
        if answer.status != 200:
            raise self._error(answer, "submit")
        try:
            envelope = answer.envelope("submit")
            prediction = Prediction.from_envelope(envelope)
        except ProtocolError as exc:
            raise SubmitOutcomeUnknownError(
                f"unreadable answer: {exc}", payload=payload, sent_at=sent_at
            ) from None
        code = envelope.get("code") if isinstance(envelope, Mapping) else None
        if code in (Code.MISSING_PARAMETER, Code.INVALID_PARAMETER):
            raise ParameterRejectedError(self._message(answer), status=200, code=code)
        if code == Code.TIMED_OUT:
            log.info("sync mode timed out for %s; polling it instead", prediction.id)
        log.debug("submitted %s (%s)", prediction.id, prediction.status.value)
        return prediction.with_local(request=request, simulated=self.simulated)

    # -- poll -------------------------------------------------------------------------------

    async def get(self, prediction_id: str) -> Prediction:
        """Look at a prediction once."""
        if not isinstance(prediction_id, str) or not _PREDICTION_ID.fullmatch(prediction_id):
            raise ValueError(f"prediction_id: {prediction_id!r:.120} is not a valid prediction id")
        answer = await self._send("GET", RESULT_PATH.format(id=prediction_id), kind="get")
        if answer.status == 404:
            raise PredictionNotFoundError(prediction_id)
        if answer.status != 200:
            raise self._error(answer, f"poll of {prediction_id}")
        try:
            return Prediction.from_envelope(answer.envelope(f"poll of {prediction_id}"))
        except ProtocolError as exc:
            message = str(exc)
            if not message.startswith("poll of"):
                message = f"poll of {prediction_id}: {message}"
            raise ProtocolError(message) from None

    async def wait(
        self,
        prediction_id: str,
        *,
        timeout_s: float | None = None,
        on_update: OnUpdate | None = None,
        submitted: Prediction | None = None,
    ) -> Prediction:
        """Poll until the prediction completes or fails; resume a task by id this way.

        Pass ``submitted`` (the answer of :meth:`submit`) when waiting right after a
        submit: the wait then also teaches the poll schedule how long tasks take.
        Raises :class:`PredictionTimeoutError` (with the id) after ``timeout_s``
        (default ``timeouts.wait_s``). Cancelling the awaiting task stops polling at once.
        """
        limit = self.timeouts.wait_s if timeout_s is None else timeout_s
        started = time.monotonic()
        last = submitted
        last_delay = 0.0
        for delay in self.poll.delays(self.duration.value):
            remaining = limit - (time.monotonic() - started)
            if remaining <= 0:
                break
            last_delay = min(delay, remaining)
            await asyncio.sleep(last_delay)
            current = await self.get(prediction_id)
            if last is None or current.status != last.status:
                _notify(on_update, current)
            last = current
            if current.finished:
                if submitted is not None:
                    # The finish happened somewhere in the last interval: take its middle.
                    self.duration.observe(time.monotonic() - started - last_delay / 2)
                return current.with_local(simulated=self.simulated)
        raise PredictionTimeoutError(
            prediction_id, time.monotonic() - started, last.status.value if last else "unknown"
        )

    # -- uploads ----------------------------------------------------------------------------

    async def upload(self, image: ImageInput) -> str:
        """Upload a local image once per content and return its URL (URLs pass through)."""
        source = normalize_image(image, "image")
        if isinstance(source, Problem):
            raise InvalidRequestError([source])
        if isinstance(source, str):
            return source
        digest = source.sha256
        if digest in self._uploaded:
            return self._uploaded[digest]
        task = self._uploading.get(digest)
        if task is None:
            # One upload per content even when several runs ask for it at once.
            task = asyncio.ensure_future(self._upload_new(source))
            self._uploading[digest] = task
            task.add_done_callback(lambda _t: self._uploading.pop(digest, None))
        return await asyncio.shield(task)

    async def _upload_new(self, image: LocalImage) -> str:
        if self.upload_method == "binary":
            url = await self._upload_binary(image)
        else:
            url = await self._upload_ticket(image)
        self._uploaded[image.sha256] = url
        log.debug("uploaded %s as %s", image.name, url)
        return url

    async def _upload_binary(self, image: LocalImage) -> str:
        form = aiohttp.FormData()
        form.add_field("file", image.data, filename=image.filename, content_type=image.content_type)
        answer = await self._send("POST", UPLOAD_BINARY_PATH, kind="upload", form=form)
        return self._download_url(answer, image)

    async def _upload_ticket(self, image: LocalImage) -> str:
        ticket_body = {
            "filename": image.filename,
            "size": len(image.data),
            "content_type": image.content_type,
        }
        answer = await self._send("POST", UPLOAD_TICKET_PATH, kind="upload", json_body=ticket_body)
        download_url = self._download_url(answer, image)
        data = answer.json()["data"]
        upload = data.get("upload") if isinstance(data, Mapping) else None
        if not isinstance(upload, Mapping) or not is_http_url(upload.get("url")):
            raise ProtocolError(f"upload ticket for {image.name} has no usable upload URL")
        method = str(upload.get("method") or "PUT").upper()
        if method not in ("PUT", "POST"):
            raise ProtocolError(f"upload ticket asks for method {method!r}; expected PUT")
        headers = upload.get("headers") or {}
        if not isinstance(headers, Mapping):
            raise ProtocolError("upload ticket headers are not an object")
        put = await self._send(
            method,
            str(upload["url"]),
            kind="upload",
            raw_body=image.data,
            extra_headers={str(k): str(v) for k, v in headers.items()},
            authorize=False,
        )
        if not 200 <= put.status < 300:
            raise self._error(put, f"upload of {image.name}")
        return download_url

    def _download_url(self, answer: _Answer, image: LocalImage) -> str:
        if answer.status == 413:
            raise ParameterRejectedError(
                f"upload of {image.name} refused: larger than the service allows "
                f"({len(image.data)} bytes; at most {MAX_UPLOAD_BYTES})",
                status=413,
            )
        if answer.status != 200:
            raise self._error(answer, f"upload of {image.name}")
        body = answer.json()
        data = body.get("data") if isinstance(body, Mapping) else None
        url = data.get("download_url") if isinstance(data, Mapping) else None
        if not is_http_url(url):
            raise ProtocolError(f"upload of {image.name}: answer has no http(s) download_url")
        return str(url)

    # -- downloads --------------------------------------------------------------------------

    async def download(self, url: str) -> bytes:
        """Fetch one output image: size-capped, redirects only to http(s), checked to be an image.

        Never sends the API key (output hosts are not the service). Raises
        :class:`ProtocolError` for anything that is not a sane image, and
        :class:`RequestTimeoutError` when the host stalls.
        """
        if not is_http_url(url):
            raise ProtocolError(
                f"output URL {url!r:.200} is not an http(s) URL; refusing to fetch it"
            )
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            answer = await self._send("GET", current, kind="download", authorize=False)
            if answer.status not in _REDIRECT_STATUSES:
                break
            current = _redirect_target(url, current, answer.headers.get("Location"))
        else:
            raise ProtocolError(
                f"download of {url!r:.200}: more than {MAX_REDIRECTS} redirects; gave up"
            )
        if 400 <= answer.status < 500:
            # No key goes to output hosts, so a 4xx here is never about the account: the
            # output expired, was deleted or never existed. Other predictions are unaffected.
            raise OutputUnavailableError(
                f"download of {url!r:.200}: HTTP {answer.status} ({self._message(answer)}); "
                "outputs are kept only for a while (about 7 days): download them promptly",
                status=answer.status,
            )
        if answer.status != 200:
            raise self._error(answer, f"download of {url}")
        _check_image(answer.body, url, self.max_output_pixels)
        return answer.body

    async def download_outputs(self, prediction: Prediction) -> Prediction:
        """A copy of ``prediction`` with every output downloaded into ``images``."""
        tasks = [asyncio.ensure_future(self.download(u)) for u in prediction.outputs]
        try:
            datas = await asyncio.gather(*tasks)
        except BaseException:
            # One refused output ends the lot: stop the other downloads instead of orphaning them.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        pairs = zip(prediction.outputs, datas, strict=True)
        images = tuple(OutputImage(url=u, data=d) for u, d in pairs)
        return prediction.with_local(images=images)

    async def list_predictions(self, page: int = 1, page_size: int = 100) -> list[Prediction]:
        """The account's recent predictions, newest first (one page)."""
        body = {"page": page, "page_size": page_size}
        answer = await self._send("POST", LIST_PATH, kind="get", json_body=body)
        if answer.status != 200:
            raise self._error(answer, "list of predictions")
        envelope = answer.json()
        data = envelope.get("data") if isinstance(envelope, Mapping) else None
        items = data.get("items") if isinstance(data, Mapping) else data
        if not isinstance(items, list):
            raise ProtocolError("list of predictions: answer has no list of items")
        return [Prediction.from_data(item) for item in items if isinstance(item, Mapping)]

    async def balance(self) -> float:
        """The account's balance in US dollars."""
        answer = await self._send("GET", BALANCE_PATH, kind="get")
        if answer.status != 200:
            raise self._error(answer, "balance")
        body = answer.json()
        data = body.get("data") if isinstance(body, Mapping) else None
        value = data.get("balance") if isinstance(data, Mapping) else None
        number = finite_number(value)
        if number is None:
            raise ProtocolError(f"balance answer has no number: {value!r:.80}")
        return number

    # -- HTTP with retries ------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        kind: _Kind,
        json_body: Any = None,
        form: aiohttp.FormData | None = None,
        raw_body: bytes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        authorize: bool = True,
        timeout_s: float | None = None,
        sent_at: dt.datetime | None = None,
    ) -> _Answer:
        """One call, retried as the contract allows for its kind. Never raises aiohttp errors."""
        url = path_or_url if is_http_url(path_or_url) else self.base_url + path_or_url
        headers = dict(extra_headers or {})
        if authorize and self._endpoint.api_key:
            # Only ever to the configured base URL: never to upload targets or output hosts.
            headers["Authorization"] = "Bearer " + self._endpoint.api_key.reveal()
        total_s = timeout_s or self._timeout_for(kind)
        timeout = aiohttp.ClientTimeout(
            total=total_s, connect=self.timeouts.connect_s, sock_read=self.timeouts.read_s
        )
        cap = self.max_download_bytes if kind == "download" else 8 * 1024 * 1024
        session = self._session()
        last_problem = ""
        for attempt in range(self.retry.attempts):
            retry_after: str | None = None
            try:
                async with session.request(
                    method,
                    url,
                    json=json_body,
                    data=form if form is not None else raw_body,
                    headers=headers,
                    timeout=timeout,
                    # Redirects are followed by download() alone, each hop checked; the
                    # service's own routes never redirect, and the key must not follow one.
                    allow_redirects=False,
                ) as resp:
                    if resp.headers.get(SIMULATOR_HEADER):
                        self._seen_simulator_header = True
                    body = await _read_capped(resp, cap, url, kind)
                    answer = _Answer(
                        resp.status, self._redact(body, kind), CIMultiDict(resp.headers)
                    )
            except aiohttp.ClientConnectorError as exc:
                # Never connected, so nothing was sent: safe to try again, even a submit.
                last_problem = f"cannot connect to {_origin(url)}: {exc.os_error.strerror or exc}"
            except aiohttp.ConnectionTimeoutError:
                # Timed out while connecting: nothing was sent either.
                last_problem = (
                    f"cannot connect to {_origin(url)}: no connection within "
                    f"{self.timeouts.connect_s:g} s"
                )
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                reason = (
                    self._timed_out(total_s)
                    if isinstance(exc, asyncio.TimeoutError)
                    else _describe(exc)
                )
                if kind == "submit":
                    raise SubmitOutcomeUnknownError(
                        reason,
                        payload=json_body or {},
                        sent_at=sent_at or dt.datetime.now(dt.timezone.utc),
                    ) from None
                last_problem = f"{method} {_origin(url)} {reason}"
            else:
                if answer.status not in self._retry_statuses(kind):
                    return answer
                if kind == "submit" and answer.status != 429 and answer.status >= 500:
                    raise SubmitOutcomeUnknownError(
                        f"HTTP {answer.status}",
                        payload=json_body or {},
                        sent_at=sent_at or dt.datetime.now(dt.timezone.utc),
                    )
                retry_after = answer.headers.get("Retry-After")
                last_problem = f"HTTP {answer.status}: {self._message(answer)}"
                if attempt + 1 == self.retry.attempts:
                    raise self._error(answer, f"{method} {_path(url)}")
            if attempt + 1 < self.retry.attempts:
                delay = self.retry.delay(attempt, retry_after)
                log.info("%s %s: %s; retrying in %.1f s", method, _path(url), last_problem, delay)
                await asyncio.sleep(delay)
        if "timed out" in last_problem:
            raise RequestTimeoutError(f"{last_problem} (gave up after {self.retry.attempts} tries)")
        raise ServerError(f"{last_problem} (gave up after {self.retry.attempts} tries)")

    def _timed_out(self, total_s: float) -> str:
        return (
            f"timed out (no answer within {total_s:g} s, or no data for "
            f"{self.timeouts.read_s:g} s mid-answer)"
        )

    def _redact(self, body: bytes, kind: _Kind) -> bytes:
        """Drop the key from an answer of the service, should it ever echo it back.

        Everything read from an answer (messages, errors, ids) then cannot carry it into
        an exception, a log line or the store. Image bytes are left alone.
        """
        if kind == "download" or not self._endpoint.api_key:
            return body
        key = self._endpoint.api_key.reveal().encode()
        return body.replace(key, b"***") if key in body else body

    def _retry_statuses(self, kind: _Kind) -> frozenset[int]:
        if kind == "submit":
            # 5xx are listed so the caller sees them as "outcome unknown", never as a resend.
            return self.retry.submit_statuses | frozenset({500, 502, 503, 504})
        return TRANSIENT_STATUSES

    def _timeout_for(self, kind: _Kind) -> float:
        return {
            "upload": self.timeouts.upload_s,
            "download": self.timeouts.download_s,
        }.get(kind, self.timeouts.request_s)

    def _message(self, answer: _Answer) -> str:
        body = answer.json()
        message = body.get("message") if isinstance(body, Mapping) else None
        if not isinstance(message, str) or not message:
            message = answer.body[:300].decode("utf-8", "replace").strip() or "no message"
        return self._endpoint.redact(message)[:500]

    def _error(self, answer: _Answer, what: str) -> ServiceError:
        body = answer.json()
        code = body.get("code") if isinstance(body, Mapping) else None
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = f"{what}: {self._message(answer)}"
        status = answer.status
        if status == 401:
            return AuthenticationError(message, code=code)
        if status == 400:
            return ParameterRejectedError(
                f"{message} (HTTP 400, code {code})", status=status, code=code
            )
        if status == 429:
            return RateLimitedError(
                f"{message} (HTTP 429, still refused after retries)", status=status, code=code
            )
        if 400 <= status < 500:
            return AccountError(f"{message} (HTTP {status})", status=status, code=code)
        return ServerError(f"{message} (HTTP {status})", status=status, code=code)


def _notify(callback: OnUpdate | None, prediction: Prediction) -> None:
    if callback is None:
        return
    try:
        callback(prediction)
    except Exception:  # a broken progress display must not stop the work
        log.exception("on_update callback failed")


def _task_failed(prediction: Prediction) -> TaskFailedError:
    return TaskFailedError(prediction.id, prediction.code, prediction.error, prediction=prediction)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int, url: str, kind: _Kind) -> bytes:
    """The body, refused (ProtocolError) as soon as it is known to exceed ``cap``.

    A declared Content-Length over the cap is refused before reading anything; a
    chunked (or compressed) body is counted as it arrives, so no more than the cap
    plus one chunk is ever held.
    """
    hint = " (raise Client(max_download_bytes=...) if it is expected)" if kind == "download" else ""
    declared = resp.content_length
    if declared is not None and declared > cap:
        raise ProtocolError(
            f"answer from {_origin(url)} is {declared} bytes; the limit is {cap}{hint}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ProtocolError(
                f"answer from {_origin(url)} is over the {cap}-byte limit; stopped reading{hint}"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _redirect_target(first: str, current: str, location: str | None) -> str:
    """Where a redirect of a download leads, or ProtocolError if it is not a safe http(s) hop."""
    from urllib.parse import urljoin, urlsplit

    if not location:
        raise ProtocolError(f"download of {first!r:.200}: a redirect without a Location")
    location = location.strip()
    try:
        # An absolute Location stands on its own: joining would lend "http:///x" our host.
        target = location if urlsplit(location).scheme else urljoin(current, location)
    except ValueError:
        target = location
    if not is_http_url(target):
        raise ProtocolError(
            f"download of {first!r:.200}: redirected to {target!r:.200}, which is not an "
            "http(s) URL with a host; refusing to follow it"
        )
    if urlsplit(current).scheme == "https" and urlsplit(target).scheme == "http":
        raise ProtocolError(
            f"download of {first!r:.200}: redirected from https to plain http "
            f"({target!r:.200}); refusing to follow it"
        )
    return target


def _check_image(data: bytes, url: str, max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
    """ProtocolError unless ``data`` is an image of sane dimensions (header only, no decode)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow only warns between its two bomb thresholds: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ProtocolError(
                        f"{url!r:.200} returned an image of {width}×{height} pixels "
                        f"({width * height / 1e6:.0f} megapixels; the limit is "
                        f"{max_pixels / 1e6:g}): refused as a possible decompression bomb"
                    )
                img.verify()
    except ProtocolError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ProtocolError(
            f"{url!r:.200} returned an image with absurd dimensions, refused as a "
            f"decompression bomb ({exc})"
        ) from None
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, struct.error...) for junk
        raise ProtocolError(
            f"{url!r:.200} did not return a readable image ({len(data)} bytes, starting "
            f"{data[:16]!r})"
        ) from None


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed by the server without an answer"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "answer cut off mid-body"
    return f"failed ({type(exc).__name__})"
