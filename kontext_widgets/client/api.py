"""The async WaveSpeed client: submit, poll, sync mode, uploads, downloads, balance.

The API logic lives here and speaks only to a :class:`~.transport.Transport`, so
it can be tested without a server; the network (sessions, caps, retries, time-outs)
lives in :mod:`.transport`. A concurrency limit; the key sent only to the configured
base URL and never shown anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp

from ..contract import (
    RESULT_PATH,
    SUBMIT_PATH,
    Code,
    Status,
)
from ..errors import (
    InvalidRequestError,
    ParameterRejectedError,
    PredictionNotFoundError,
    Problem,
    ProtocolError,
    SubmitOutcomeUnknownError,
)
from ..payload import is_http_url
from ..prediction import Prediction
from ..request import ImageInput, KontextRequest, LocalImage
from . import account, media, outputs
from .answers import envelope_of, error_for, message_of, parse_prediction, sync_timed_out
from .answers import task_failed as _task_failed
from .endpoint import Endpoint, resolve
from .markers import refuse_markers
from .polling import DurationEstimate, DurationMemory, PollPolicy
from .redaction import Redactor
from .retry import RetryPolicy
from .slots import LoopSlots
from .transport import (
    MAX_ANSWER_BYTES,
    Answer,
    Call,
    HttpTransport,
    Kind,
    Limits,
    Timeouts,
    Transport,
)
from .waiting import Waiter, notify

log = logging.getLogger("kontext_widgets")

OnUpdate = Callable[[Prediction], None]  # also in .waiting (where it is used)
#: What a prediction id may look like before it goes into a URL path.
_PREDICTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class Client:
    """Talks to FLUX.1 Kontext [pro] Multi on WaveSpeed, or to the offline simulator.

    With no key (argument or ``WAVESPEED_API_KEY``) it starts the simulator on
    127.0.0.1 and every result says SIMULATED; nothing is sent to the real service.
    ``durations`` (e.g. a :class:`~kontext_widgets.store.Store`) remembers how long
    tasks take per endpoint, so a new kernel polls as well as a warm one;
    ``transport`` replaces the network (tests).

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
        max_output_pixels: int = media.MAX_OUTPUT_PIXELS,
        upload_method: Literal["binary", "ticket"] = "binary",
        durations: DurationMemory | None = None,
        transport: Transport | None = None,
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
        self._redactor = Redactor(self._endpoint.api_key)
        self.max_concurrency = max_concurrency
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        # A remote service gets WaveSpeed's etiquette (>= 2 s between polls of a task);
        # a simulator on this machine is polled closely around the expected finish.
        self.poll = poll or (PollPolicy() if self._endpoint.is_local else PollPolicy.remote())
        self.max_download_bytes = max_download_bytes
        self.max_output_pixels = max_output_pixels
        self.upload_method = upload_method
        self.duration = DurationEstimate()
        self._waiter = Waiter(self, durations)
        self._transport: Transport = transport or HttpTransport(
            lambda: self.retry,
            lambda: Limits(self.timeouts.connect_s, self.timeouts.read_s),
            trust_env=not self._endpoint.simulated,
        )
        # Runs and downloads each get max_concurrency slots (separate: a run holds its slot
        # while it downloads, so sharing one pool could deadlock at max_concurrency=1).
        self._slots = LoopSlots(lambda: self.max_concurrency)
        self._download_slots = LoopSlots(lambda: self.max_concurrency)
        self._uploaded: dict[str, str] = {}
        self._uploading: dict[str, asyncio.Future[str]] = {}
        self._seen_simulator_header = False
        #: set to ``{}`` to record when each poll of each prediction started
        #: (``time.monotonic()``), e.g. to check the gaps between polls
        self.poll_times: dict[str, list[float]] | None = None

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

    @property
    def durations(self) -> DurationMemory | None:
        """Where learned task durations are remembered (None: this client only)."""
        return self._waiter.memory

    @durations.setter
    def durations(self, memory: DurationMemory | None) -> None:
        self._waiter.memory = memory

    def describe(self) -> str:
        """One line saying where requests go (never the key)."""
        return self._endpoint.describe()

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self.base_url!r}, simulated={self.simulated}, "
            f"max_concurrency={self.max_concurrency})"
        )

    # -- session ----------------------------------------------------------------------------

    @property
    def _http(self) -> aiohttp.ClientSession | None:
        """The aiohttp session of the default transport (None before first use)."""
        return self._transport.session if isinstance(self._transport, HttpTransport) else None

    async def close(self) -> None:
        """Close the HTTP session (the client reopens one if used again)."""
        await self._transport.close()

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
        async with self._slots.get():
            submitted = await self.submit(request)
            notify(on_update, submitted)
            prediction = submitted
            if not submitted.finished:
                prediction = await self.wait(submitted.id, on_update=on_update, submitted=submitted)
        prediction = prediction.with_local(request=request, simulated=self.simulated)
        if prediction.status is Status.FAILED:
            if raise_on_failure:
                raise _task_failed(prediction, self._redactor)
            return prediction
        if download:
            prediction = await self.download_outputs(prediction)
        return prediction

    # -- submit -----------------------------------------------------------------------------

    async def submit(self, request: KontextRequest) -> Prediction:
        """Upload local images, then submit once; return the created (sync mode: done) prediction.

        A prompt holding ``[simulate:...]`` markers is refused before anything is sent
        unless the endpoint is the simulator. A submit that gets no usable answer raises
        :class:`SubmitOutcomeUnknownError` and is never resent: the task may exist.
        """
        await refuse_markers(self, request.prompt)
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
            raise error_for(answer, "submit", self._redactor)
        try:
            envelope = envelope_of(answer, "submit", self._redactor)
            prediction = parse_prediction(envelope, self._redactor)
        except ProtocolError as exc:
            raise SubmitOutcomeUnknownError(
                f"unreadable answer: {exc}", payload=payload, sent_at=sent_at
            ) from None
        code = envelope.get("code") if isinstance(envelope, Mapping) else None
        if code in (Code.MISSING_PARAMETER, Code.INVALID_PARAMETER):
            raise ParameterRejectedError(message_of(answer, self._redactor), status=200, code=code)
        shown_id = self._redactor.text(prediction.id)
        if sync_timed_out(envelope) and not prediction.finished:
            log.info("sync mode timed out for %s; polling it instead", shown_id)
        log.debug("submitted %s (%s)", shown_id, prediction.status.value)
        return prediction.with_local(request=request, simulated=self.simulated)

    # -- poll -------------------------------------------------------------------------------

    async def get(self, prediction_id: str) -> Prediction:
        """Look at a prediction once."""
        if not isinstance(prediction_id, str) or not _PREDICTION_ID.fullmatch(prediction_id):
            raise ValueError(f"prediction_id: {prediction_id!r:.120} is not a valid prediction id")
        answer = await self._send(
            "GET",
            RESULT_PATH.format(id=prediction_id),
            kind="get",
            # A retried poll is a poll too: it keeps the schedule's floor.
            min_retry_delay_s=self.poll.floor_s,
        )
        if answer.status == 404:
            raise PredictionNotFoundError(prediction_id)
        what = f"poll of {self._redactor.text(prediction_id)}"
        if answer.status != 200:
            raise error_for(answer, what, self._redactor)
        return parse_prediction(envelope_of(answer, what, self._redactor), self._redactor, what)

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
        return await self._waiter.wait(prediction_id, limit, on_update, submitted)

    # -- uploads ----------------------------------------------------------------------------

    async def upload(self, image: ImageInput) -> str:
        """Upload a local image once per content and return its URL (URLs pass through)."""
        return await media.upload_once(self, image)

    # -- downloads --------------------------------------------------------------------------

    async def download(self, url: str) -> bytes:
        """Fetch one output image: size-capped, redirects only to http(s), checked to be an image.

        Never sends the API key (output hosts are not the service). At most
        ``max_concurrency`` downloads run at once. Raises :class:`ProtocolError` for
        anything that is not a sane image, and :class:`RequestTimeoutError` when the
        host stalls.
        """
        return await outputs.download(self, url)

    async def download_outputs(self, prediction: Prediction) -> Prediction:
        """A copy of ``prediction`` with every output downloaded into ``images``."""
        return await outputs.download_all(self, prediction)

    # -- account ----------------------------------------------------------------------------

    async def list_predictions(self, page: int = 1, page_size: int = 100) -> list[Prediction]:
        """The account's recent predictions, newest first (one page)."""
        return await account.list_predictions(self, page, page_size)

    async def balance(self) -> float:
        """The account's balance in US dollars."""
        return await account.balance(self)

    # -- one call ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        kind: Kind,
        extra_headers: Mapping[str, str] | None = None,
        authorize: bool = True,
        timeout_s: float | None = None,
        cap_bytes: int = MAX_ANSWER_BYTES,
        **options: Any,
    ) -> Answer:
        """One call through the transport, with the key added for the service's own routes."""
        url = path_or_url if is_http_url(path_or_url) else self.base_url + path_or_url
        headers = dict(extra_headers or {})
        if authorize and self._endpoint.api_key:
            # Only ever to the configured base URL: never to upload targets or output hosts.
            headers["Authorization"] = "Bearer " + self._endpoint.api_key.reveal()
        call = Call(
            method,
            url,
            kind,
            timeout_s or self._timeout_for(kind),
            headers=headers,
            cap_bytes=cap_bytes,
            **options,
        )
        answer = await self._transport.send(call)
        if answer.simulated:
            self._seen_simulator_header = True
        return answer

    def _timeout_for(self, kind: Kind) -> float:
        return {
            "upload": self.timeouts.upload_s,
            "download": self.timeouts.download_s,
        }.get(kind, self.timeouts.request_s)
