"""Command line: ``python -m kontext_widgets.simulator --port 8765 --latency 2``.

Prints one line with the URL once it listens, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .config import STATE_DIR_ENV, SimulatorConfig
from .server import DEFAULT_HOST, serve


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents every option in ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m kontext_widgets.simulator",
        description="Offline WaveSpeed FLUX.1 Kontext [pro] Multi simulator (SIMULATED images).",
    )
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help="loopback address to listen on (default 127.0.0.1)")
    add("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    add("--latency", type=float, default=0.5, help="seconds a task spends processing")
    add("--api-key", default=None, help="require 'Authorization: Bearer KEY' on /api/v3")
    add("--concurrency", type=int, default=None, help="tasks processed at once; more queue")
    add("--fail-rate", type=float, default=0.0, help="share of tasks that fail (0-1)")
    add("--error-rate", type=float, default=0.0, help="share of requests answered 5xx (0-1)")
    add("--rate-limit-rate", type=float, default=0.0, help="share answered 429 (0-1)")
    add("--drop-rate", type=float, default=0.0, help="share of connections cut (0-1)")
    add("--sync-timeout", type=float, default=None, help="seconds a sync-mode submit waits")
    add("--balance", type=float, default=None, help="starting balance in USD")
    add("--output-long-side", type=int, default=None, help="long side of outputs in px")
    add("--seed", type=int, default=0, help="seed of the fault RNG")
    add("--no-remote-fetch", action="store_true", help="fetch only loopback and own URLs")
    add(
        "--state-dir",
        default=None,
        help="directory keeping tasks, uploads and outputs across restarts (default: "
        f"${STATE_DIR_ENV}, else the user cache dir kontext-widgets/simulator)",
    )
    add("--ephemeral", action="store_true", help="keep nothing after stopping (a temp dir)")
    add("--retention", type=float, default=None, help="seconds tasks and media are kept (7 days)")
    add("--images-per-minute", type=int, default=None, help="answer 429 above this (off)")
    add(
        "--sync-timeout-top-level-code",
        action="store_true",
        help="put a sync time-out's code 5004 at the top level, not in data.code",
    )
    return parser


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The settings the parsed arguments ask for (ValueError if one is bad)."""
    optional: dict[str, Any] = {
        "sync_timeout_s": args.sync_timeout,
        "balance_usd": args.balance,
        "output_long_side": args.output_long_side,
        "retention_s": args.retention,
        "state_dir": args.state_dir,
    }
    if args.ephemeral and args.state_dir is not None:
        raise ValueError("--ephemeral and --state-dir exclude each other")
    chosen = {k: v for k, v in optional.items() if v is not None}
    if args.ephemeral:
        chosen["state_dir"] = None
    return SimulatorConfig(
        latency_s=args.latency,
        api_key=args.api_key,
        concurrency=args.concurrency,
        fail_rate=args.fail_rate,
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        drop_rate=args.drop_rate,
        random_seed=args.seed,
        allow_remote_fetch=not args.no_remote_fetch,
        images_per_minute=args.images_per_minute,
        sync_timeout_code_top_level=args.sync_timeout_top_level_code,
        **chosen,
    )


async def run(config: SimulatorConfig, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(signum, stop.set)
    async with await serve(config, host, port) as simulator:
        # Exactly one line, flushed: scripts wait for it to learn the port.
        banner = "kontext-widgets simulator (SIMULATED, not the real model) listening on"
        print(f"{banner} {simulator.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from(args)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(config, args.host, args.port))
    except ValueError as exc:  # bad settings or a non-loopback host
        parser.error(str(exc))
    except OSError as exc:  # e.g. the port is taken
        print(f"kontext-widgets simulator: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
