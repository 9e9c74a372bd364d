"""The common unit of every Generate: a cell (one request at a place in a plan) and its outcome.

A single-mode Generate is a plan whose cells are its seeds; a sweep is a plan whose cells
are the product of its axes. Both are run by :class:`~kontext_widgets.engine.runner.Runner`
and recorded in one :class:`~kontext_widgets.store.Store` under :func:`task_key`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..client import Client
from ..errors import KontextError
from ..prediction import Prediction
from ..request import KontextRequest

__all__ = [
    "Cell",
    "CellLike",
    "CellOutcome",
    "CellPlan",
    "CellState",
    "PlanLike",
    "describe_error",
    "task_key",
]

CellState = Literal["pending", "running", "done", "failed", "cancelled"]


class CellLike(Protocol):
    """What the runner reads of a cell (a sweep's cells and a single run's cells both fit)."""

    @property
    def index(self) -> int: ...
    @property
    def coords(self) -> Mapping[str, Any]: ...
    @property
    def request(self) -> KontextRequest: ...
    @property
    def cache_key(self) -> str: ...


class PlanLike(Protocol):
    """What the runner reads of a plan: its cells, and its axes and fixed settings (recorded)."""

    @property
    def axes(self) -> Mapping[str, list[Any]]: ...
    @property
    def fixed(self) -> Mapping[str, Any]: ...
    @property
    def cells(self) -> Sequence[CellLike]: ...


@dataclass(frozen=True)
class Cell:
    """One request at its place in a plan (its index and the values that place it).

    >>> from kontext_widgets.request import KontextRequest
    >>> r = KontextRequest.build(prompt="x", images=["https://example.com/a.png"], seed=4)
    >>> Cell(0, {"seed": 4}, r).cache_key == r.cache_key()
    True
    """

    index: int
    coords: Mapping[str, Any]
    request: KontextRequest = field(repr=False)

    @property
    def cache_key(self) -> str:
        return self.request.cache_key()


@dataclass(frozen=True)
class CellPlan:
    """Cells to run, with the axes and fixed settings that made them (a single run's plan).

    >>> len(CellPlan({}, {"prompt": "x"}, ()).cells)
    0
    """

    axes: Mapping[str, list[Any]]
    fixed: Mapping[str, Any]
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class CellOutcome:
    """How one cell ended (or stands): outputs by content hash, or the reason it failed.

    ``prediction`` is the finished prediction when this run fetched it (its images
    downloaded), ``exception`` the error that ended the cell; neither is stored.

    >>> CellOutcome(0, {"seed": 1}, "done", "p1", ("ab" * 32,), cached=True).cached
    True
    """

    index: int
    coords: dict[str, object]
    state: CellState
    prediction_id: str | None = None
    outputs: tuple[str, ...] = ()
    error: str = ""
    code: int | None = None
    #: True when the result came from the store without a new submit
    cached: bool = False
    #: True when the offline simulator made it (kept in the store: a cached rerun says so too)
    simulated: bool = False
    prediction: Prediction | None = field(default=None, repr=False, compare=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)


def task_key(cell: CellLike, client: Client) -> str:
    """The cell's request hash, scoped to where it runs.

    So simulated results never stand in for real ones.
    """
    return hashlib.sha256(f"{client.scope}\n{cell.cache_key}".encode()).hexdigest()


def describe_error(exc: BaseException) -> str:
    """One line for an error (ours already say what to do).

    >>> describe_error(ValueError("bad")), describe_error(KeyError())
    ('ValueError: bad', 'KeyError')
    """
    if isinstance(exc, KontextError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
