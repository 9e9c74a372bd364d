"""Setting the widget from Python: every value checked first, then all set (or none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidRequestError
from ..inputs import InputList
from .host import Host, refuse, touch
from .settings import SETTERS, SWEEP_SETTERS, settings_values, sweep_values, unknown_message
from .sweep_runs import Sweeps

__all__ = ["apply", "apply_sweep", "refuse_unknown"]


def refuse_unknown(where: str, given: Mapping[str, Any], allowed: Mapping[str, Any]) -> None:
    """Raise TypeError for keywords that are not keys of ``allowed`` (a converter table)."""
    unknown = {k: v for k, v in given.items() if k not in allowed}
    if unknown:
        raise TypeError(unknown_message(where, unknown, list(allowed)))


def apply(host: Host, overrides: Mapping[str, Any]) -> None:
    """Check every override, then set them all (or none: problems shown and raised)."""
    touch(host)
    refuse_unknown("generate()", overrides, SETTERS)
    values, problems = settings_values(overrides)
    new_inputs: InputList | None = None
    if "images" in overrides:
        new_inputs = host._inputs.copy()
        try:
            new_inputs.replace_all(overrides["images"])
        except InvalidRequestError as exc:
            problems += exc.problems
    if problems:
        refuse(host, problems)
    with host.hold_sync():
        for name, value in values.items():
            setattr(host, name, value)
        if new_inputs is not None:
            host._inputs = new_inputs
            host.images = new_inputs.trait()


def apply_sweep(host: Host, sweeps: Sweeps, overrides: Mapping[str, Any]) -> None:
    """``sweep()``'s overrides: checked, then set with ``mode`` "sweep" (or none set)."""
    touch(host)
    refuse_unknown("sweep()", overrides, SWEEP_SETTERS)
    values, general, problems = sweep_values(overrides)
    problems += sweeps.check(values)
    if problems:
        refuse(host, problems)
    apply(host, general)
    with host.hold_sync():
        for name, value in values.items():
            setattr(host, name, value)
        host.mode = "sweep"
