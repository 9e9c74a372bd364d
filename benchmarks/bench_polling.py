"""Polling etiquette and speed, in one run.

1. Remote: 24 predictions of 5 s at concurrency 4 through a host name that is not a
   loopback name (``kontext-sim.test``, added to /etc/hosts as 127.0.0.1 for the run and
   removed afterwards; needs root), so the client keeps WaveSpeed's "at least 2 s between
   checks". Prints wall / ideal (target <= 1.10) and the poll gaps under 2 s (target 0).
2. Loopback: 32 predictions of 1.3 s at concurrency 4, cold (a new client, nothing known)
   and warm (a new client whose store remembers the duration, as a new kernel would).
   Target <= 1.10 cold.

    python benchmarks/bench_polling.py [--skip-remote]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kontext_widgets import Client, samples
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer
from kontext_widgets.store import Store

ALIAS = "kontext-sim.test"
HOSTS = Path("/etc/hosts")
MARK = "# kontext-widgets benchmark alias"


@contextmanager
def hosts_alias(name: str) -> Iterator[None]:
    """``name`` resolves to 127.0.0.1 while the block runs (an /etc/hosts line, then removed)."""
    original = HOSTS.read_text()
    HOSTS.write_text(original.rstrip("\n") + f"\n127.0.0.1 {name} {MARK}\n")
    try:
        yield
    finally:
        lines = [line for line in HOSTS.read_text().splitlines() if MARK not in line]
        HOSTS.write_text("\n".join(lines) + "\n")


async def run_batch(client: Client, count: int) -> float:
    async with client:
        image = await client.upload(samples.path("person"))  # uploads are not what we time
        started = time.perf_counter()
        await asyncio.gather(
            *(client.run(prompt="benchmark", images=[image], seed=i) for i in range(count))
        )
        return time.perf_counter() - started


def poll_gaps(client: Client) -> list[float]:
    times = client.poll_times or {}
    return [b - a for polls in times.values() for a, b in itertools.pairwise(polls)]


def remote(count: int, concurrency: int, latency: float) -> None:
    ideal = math.ceil(count / concurrency) * latency
    with (
        SimulatorServer(SimulatorConfig(latency_s=latency, state_dir=None)) as server,
        hosts_alias(ALIAS),
    ):
        port = server.url.rsplit(":", 1)[1]
        client = Client(base_url=f"http://{ALIAS}:{port}", max_concurrency=concurrency)
        assert client.poll.polite, "the alias must get the remote schedule"
        client.poll_times = {}
        wall = asyncio.run(run_batch(client, count))
        gaps = poll_gaps(client)
        polls = server.stats()["polls"]
    short = sum(1 for g in gaps if g < 2.0)
    print(
        f"remote  : {count} predictions of {latency:g} s, concurrency {concurrency}, via "
        f"{ALIAS}: wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.3f} "
        f"(target <= 1.10); {polls} polls, {short} of {len(gaps)} gaps under 2 s "
        f"(target 0), shortest {min(gaps, default=math.nan):.2f} s"
    )


def loopback(count: int, concurrency: int, latency: float) -> None:
    ideal = math.ceil(count / concurrency) * latency
    with SimulatorServer(SimulatorConfig(latency_s=latency, state_dir=None)) as server:
        store = Store(tempfile.mkdtemp(prefix="kw-bench-"))
        for label in ("cold", "warm"):
            # Each run is a new client, as a new kernel would make; only the store carries over.
            client = Client(base_url=server.url, max_concurrency=concurrency, durations=store)
            known = store.task_seconds(client.scope, "wavespeed-ai/flux-kontext-pro/multi")
            assert (known is None) == (label == "cold")
            before = server.stats()["polls"]
            wall = asyncio.run(run_batch(client, count))
            polls = server.stats()["polls"] - before
            print(
                f"loopback: {count} predictions of {latency:g} s, concurrency {concurrency}, "
                f"{label}: wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.3f} "
                f"(target <= 1.10); {polls} polls"
            )
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-remote", action="store_true", help="no /etc/hosts alias (no root)")
    args = parser.parse_args()
    if not args.skip_remote:
        remote(24, 4, 5.0)
    loopback(32, 4, 1.3)


if __name__ == "__main__":
    main()
