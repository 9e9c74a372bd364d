"""The ``kontext-widgets`` command line.

``kontext-widgets generate --prompt "make it night" --image photo.png --seed 1 --seed 2 --out out/``
runs one prediction per seed (at most ``--concurrency`` at once), shows progress,
writes every output into ``--out`` and prints where.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..client import Client
from ..contract import PRICE_PER_IMAGE_USD
from ..errors import InvalidRequestError, KontextError
from ..prediction import Prediction
from ..request import KontextRequest
from . import sweep as cli_sweep
from .options import add_setting_options, setting_arguments


@dataclass
class Progress:
    """One status line per job: rewritten in place on a terminal, appended otherwise."""

    labels: list[str]
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    started: float = field(default_factory=time.monotonic)
    states: dict[int, str] = field(default_factory=dict)

    def update(self, index: int, state: str) -> None:
        if self.states.get(index) == state:
            return
        self.states[index] = state
        done = sum(s in ("completed", "failed") for s in self.states.values())
        line = (
            f"[{done}/{len(self.labels)} finished, {time.monotonic() - self.started:5.1f} s] "
            f"{self.labels[index]}: {state}"
        )
        if self.stream.isatty():
            self.stream.write("\r\033[K" + line)
            if done == len(self.labels):
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "prediction"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kontext-widgets",
        description="Edit images with FLUX.1 Kontext [pro] Multi (WaveSpeed). Without "
        "WAVESPEED_API_KEY an offline simulator answers and outputs are SIMULATED.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cli_sweep.add_parser(sub)
    gen = sub.add_parser("generate", help="run one edit per seed and save the outputs")
    add_setting_options(gen, sweep=False)
    gen.add_argument("--out", type=Path, default=Path("kontext-widgets-output"), help="directory")
    gen.add_argument("--concurrency", type=int, default=2, help="predictions at once (default 2)")
    gen.add_argument("--base-url", help="service URL (default: WAVESPEED_BASE_URL or WaveSpeed)")
    return parser


def _requests(args: argparse.Namespace) -> list[KontextRequest]:
    """One request per seed (``--seed`` repeated compares them side by side)."""
    common = setting_arguments(args, sweep=False)
    seeds: Sequence[int | None] = common.pop("seed", None) or [None]
    return [
        KontextRequest.build(**common, **({} if seed is None else {"seed": seed})) for seed in seeds
    ]


async def _generate(args: argparse.Namespace, out: TextIO) -> int:
    requests = _requests(args)  # every bad value is refused here, before any I/O
    labels = [f"seed {r.seed if r.seed is not None else 'random'}" for r in requests]
    client = Client(base_url=args.base_url, max_concurrency=args.concurrency)
    print(client.describe(), file=out)
    print(
        f"{len(requests)} prediction(s), estimated cost ${len(requests) * PRICE_PER_IMAGE_USD:.2f}"
        + (" (simulated: nothing billed)" if client.simulated else ""),
        file=out,
    )
    progress = Progress(labels)
    args.out.mkdir(parents=True, exist_ok=True)

    async def one(index: int, request: KontextRequest) -> Prediction | KontextError:
        progress.update(index, "queued")
        try:
            result = await client.run(
                request, on_update=lambda p: progress.update(index, p.status.value)
            )
        except KontextError as exc:
            progress.update(index, "failed")
            return exc
        return result

    try:
        results = await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    finally:
        await client.close()
    failures = 0
    for label, result in zip(labels, results, strict=True):
        if isinstance(result, KontextError):
            failures += 1
            print(f"{label}: FAILED: {result}", file=out)
            continue
        for n, image in enumerate(result.images):
            seed = result.request.seed if result.request else None
            # The id comes from the network: keep only characters safe in a file name.
            stem = f"{_safe(result.id)}_seed{'random' if seed is None else seed}"
            stem += f"_{n}" if n else ""
            path = image.save(args.out / f"{stem}.png")
            sidecar = {
                "id": result.id,
                "simulated": result.simulated,
                "source_url": image.url,
                "sha256": image.sha256,
                **(dict(result.request.describe()) if result.request else {}),
            }
            path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
            tag = " (SIMULATED)" if result.simulated else ""
            print(f"{label}: wrote {path}{tag}", file=out)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kontext-widgets`` command."""
    args = _parser().parse_args(argv)
    if args.concurrency is not None and args.concurrency < 1:
        print(
            f"--concurrency: {args.concurrency} is not allowed; expected 1 or more", file=sys.stderr
        )
        return 2
    try:
        if args.command == "sweep":
            return cli_sweep.run(args, sys.stdout)
        return asyncio.run(_generate(args, sys.stdout))
    except InvalidRequestError as exc:
        print(f"error: nothing was sent: {exc}", file=sys.stderr)
        return 2
    except KontextError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. --out names a file: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
