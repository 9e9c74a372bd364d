"""What the controllers see of the widget: its traits and its parts (a Protocol, no import of it).

The controllers (runs, sweeps, messages) work on anything with these members, so each
can be tested on a widget without a comm, and none imports the widget class.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..client import Client
from ..errors import InvalidRequestError, Problem
from ..history import History, HistoryStep
from ..inputs import InputList
from ..store import Store
from .outputs import Outputs
from .settings import problem_entries
from .tasks import Tasks

__all__ = ["Host", "refuse", "show_problems", "touch"]


class Host(Protocol):
    """The widget, as its controllers use it."""

    # edited by the front end
    prompt: str
    aspect_ratio: str
    seed: int
    seed_locked: bool
    compare: int
    seed_list: str
    guidance_scale: float
    sync_mode: bool
    on_busy: str
    mode: str
    sweep_seeds: str
    sweep_guidance: str
    sweep_ratios: list[str]
    sweep_prompts: str
    sweep_concurrency: int
    sweep_budget: Any
    sweep_allow_over_budget: bool
    sweep_rows: str
    sweep_cols: str
    # set by Python
    images: list[dict[str, Any]]
    simulated: bool
    balance: Any
    busy: bool
    jobs: list[dict[str, Any]]
    status: str
    problems: list[dict[str, Any]]
    error: str
    rows: list[dict[str, Any]]
    older_runs: int
    saved_output: str
    history: list[HistoryStep]
    sweep_plan: str
    sweep_axes: list[str]
    sweep_progress: dict[str, Any]
    sweep_failed: int
    plan: dict[str, Any]
    # its parts
    _inputs: InputList
    _history: History
    _outputs: Outputs
    _tasks: Tasks
    _open: bool

    @property
    def client(self) -> Client: ...
    @property
    def store(self) -> Store: ...
    def store_if_made(self) -> Store | None: ...
    def hold_sync(self) -> AbstractContextManager[Any]: ...
    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None: ...


def touch(host: Host) -> None:
    """A new action: the last error and problems have been seen."""
    if host.error:
        host.error = ""
    if host.problems:
        host.problems = []


def show_problems(host: Host, problems: list[Problem]) -> None:
    host.problems = problem_entries(problems)
    host.status = "Nothing was sent: see the marked settings"


def refuse(host: Host, problems: list[Problem]) -> None:
    """Show the problems of a click that sends nothing, and raise them."""
    show_problems(host, problems)
    raise InvalidRequestError(problems)
