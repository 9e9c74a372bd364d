"""``kontext-widgets sweep``: axes as options or from a TOML file, a progress bar, exports.

    kontext-widgets sweep --prompt "make it night" --image person.png --seed 1-4 \\
        --guidance 2.0:5.0:1.0 --aspect-ratio 1:1 --aspect-ratio 16:9 --out sweep-out/
    kontext-widgets sweep --config sweep.toml

The TOML file holds the same names as ``kontext_widgets.sweep``: ``prompt``, ``images``
(a list, or a list of lists for an image-set axis), ``seed`` (list, ``"1-8"`` or a count of
random seeds), ``guidance_scale``, ``aspect_ratio``, plus ``concurrency``, ``max_cost_usd``,
``store`` and ``out``. The setting options come from the registry
(:mod:`kontext_widgets.cli.options`) and the values are read with the one grammar.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from ..client import Client
from ..errors import InvalidRequestError, Problem
from ..sweeps import SweepResult, plan_sweep, sweep
from ..sweeps.progress import ProgressDisplay
from .options import add_setting_options, setting_arguments

_RUN_KEYS = {"concurrency", "max_cost_usd", "store", "out", "retry_failed", "random_seed"}


def add_parser(sub: Any) -> None:
    """Register the ``sweep`` subcommand on the main parser's subparsers."""
    p = sub.add_parser("sweep", help="run a parameter sweep (costed, cached, resumable)")
    p.add_argument("--config", type=Path, help="TOML file with the sweep (options override it)")
    add_setting_options(p, sweep=True)
    p.add_argument("--concurrency", type=int, help="cells at once (default 2)")
    p.add_argument("--max-cost", type=float, dest="max_cost_usd", help="budget in USD (default 5)")
    p.add_argument("--yes", action="store_true", help="run even above the budget")
    p.add_argument("--retry-failed", action="store_true", help="submit failed cells again")
    p.add_argument("--store", help="store directory (default ./kontext-widgets-store)")
    p.add_argument("--out", type=Path, help="write the contact sheet, HTML page and images here")
    p.add_argument("--base-url", help="service URL (default: WAVESPEED_BASE_URL or WaveSpeed)")


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        with path.open("rb") as handle:
            return dict(tomllib.load(handle))
    except OSError as exc:
        raise InvalidRequestError([Problem("--config", str(path), f"cannot read: {exc}")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            [Problem("--config", str(path), f"not UTF-8 text: {exc.reason} at byte {exc.start}")]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequestError(
            [Problem("--config", str(path), f"not valid TOML: {exc}")]
        ) from None


def _arguments(args: argparse.Namespace) -> dict[str, Any]:
    settings = _load_toml(args.config) if args.config else {}
    options = {
        **setting_arguments(args, sweep=True),
        "concurrency": args.concurrency,
        "max_cost_usd": args.max_cost_usd,
        "store": args.store,
        "out": str(args.out) if args.out else None,
        "retry_failed": args.retry_failed or None,
    }
    settings.update({k: v for k, v in options.items() if v is not None})
    if args.yes:
        settings["max_cost_usd"] = None
    return settings


def _check_run_options(options: dict[str, Any]) -> None:
    """Refuse run settings of the wrong type (a TOML file can hold anything), naming each."""
    problems: list[Problem] = []
    for name, value in options.items():
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if name == "concurrency" and not (is_int and value >= 1):
            problems.append(Problem(name, value, "expected an integer, 1 or more"))
        elif name == "max_cost_usd" and not (value is None or is_int or isinstance(value, float)):
            problems.append(Problem(name, value, "expected a number of dollars"))
        elif name in ("store", "out") and not (isinstance(value, str) and value):
            problems.append(Problem(name, value, "expected a directory path (a string)"))
        elif name == "retry_failed" and not isinstance(value, bool):
            problems.append(Problem(name, value, "expected true or false"))
        elif name == "random_seed" and not is_int:
            problems.append(Problem(name, value, "expected an integer"))
    if problems:
        raise InvalidRequestError(problems)


def check_out(target: Path) -> None:
    """Refuse an ``--out`` that could not take the exports, before anything is spent.

    The directory is made now (empty if the run then fails), so a name that is a file, a
    parent that is read-only or a full disk is said before the first submit.

    >>> import tempfile
    >>> afile = Path(tempfile.mkdtemp()) / "taken"; _ = afile.write_text("x")
    >>> check_out(afile)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: --out: '...taken' is not allowed; expected a ...
    """
    problem = ""
    if target.exists() and not target.is_dir():
        problem = "it is a file"
    else:
        try:
            target.mkdir(parents=True, exist_ok=True)
            probe = target / ".kontext-widgets-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            problem = f"it cannot be written: {exc.strerror or exc}"
        blocking = [target / n for n in ("images", "contact-sheet.png", "sweep.html")]
        wrong = [p.name for p in blocking if p.exists() and p.is_dir() != (p.name == "images")]
        if not problem and wrong:
            problem = f"{', '.join(wrong)} inside it is of the wrong kind (file or directory)"
    if problem:
        raise InvalidRequestError(
            [Problem("--out", str(target), f"expected a directory to write into ({problem})")]
        )


async def _run(args: argparse.Namespace, out: TextIO) -> tuple[SweepResult, dict[str, Any]]:
    settings = _arguments(args)
    run_options = {k: settings.pop(k) for k in list(settings) if k in _RUN_KEYS}
    _check_run_options(run_options)
    plan_sweep(**settings)  # every bad value is refused here, before a client even starts
    if run_options.get("out"):
        check_out(Path(run_options["out"]))  # before anything is paid for
    concurrency = int(run_options.get("concurrency", 2))
    async with Client(base_url=args.base_url, max_concurrency=concurrency) as client:
        print(client.describe(), file=out)
        result = await sweep(
            client=client,
            concurrency=concurrency,
            max_cost_usd=run_options.get("max_cost_usd", 5.0),
            store=run_options.get("store"),
            retry_failed=bool(run_options.get("retry_failed", False)),
            random_seed=run_options.get("random_seed"),
            progress=ProgressDisplay(notebook=False),
            **settings,
        )
    return result, run_options


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Plan (refusing bad input before any I/O), show the plan, run with progress, export."""
    result, run_options = asyncio.run(_run(args, out))
    print(result.summary(), file=out)
    print(f"store: {result.store.directory}", file=out)
    for outcome in result.failed:
        print(f"cell {outcome.index} {dict(outcome.coords)}: FAILED: {outcome.error}", file=out)
    if run_options.get("out"):
        target = Path(run_options["out"])
        target.mkdir(parents=True, exist_ok=True)
        sheet = result.contact_sheet(target / "contact-sheet.png")
        page = result.html(target / "sweep.html")
        images = result.export_images(target / "images")
        print(f"wrote {sheet}, {page} and {len(images)} images in {target / 'images'}", file=out)
    return 1 if result.failed else 0
