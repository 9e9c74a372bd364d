"""Sweep throughput and memory against the simulator (run as a separate process).

1. A 64-cell sweep, 1 s latency, concurrency 8: wall time as a ratio to the ideal
   (8 waves of 1 s). Target: at most 1.10.
2. A 1,000-cell sweep with zero latency: peak memory (max RSS) of the sweeping
   process, and its ratio to a bare Python process with the package imported.
   Target: under 300 MB.

    python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time

RUN = """
import asyncio, json, resource, sys, time
import kontext_widgets as kw
async def main():
    url, store, cells, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    seeds = f"1-{cells // 4}"
    async with kw.Client(base_url=url, max_concurrency=concurrency) as client:
        started = time.perf_counter()
        result = await kw.sweep(prompt="bench", images=[kw.samples.path("person")],
                                guidance_scale=[2.0, 3.0, 4.0, 5.0], seed=seeds, client=client,
                                store=store, concurrency=concurrency, max_cost_usd=None,
                                progress=False)
        wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "done": len(result.done), "peak_mb": peak_mb}))
asyncio.run(main())
"""
BARE = (
    "import resource, kontext_widgets;"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
)


def simulator(latency: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kontext_widgets.simulator",
            "--port",
            "0",
            "--latency",
            str(latency),
            "--output-long-side",
            "256",  # we time the sweep, not the simulator's PNG encoder
            "--no-remote-fetch",
            "--ephemeral",  # a benchmark keeps nothing in the user cache
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line[line.index("http://") :].strip()


def sweep(url: str, cells: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as store:
        out = subprocess.run(
            [sys.executable, "-c", RUN, url, store, str(cells), str(concurrency)],
            capture_output=True,
            text=True,
            check=True,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    process, url = simulator(1.0)
    try:
        got = sweep(url, 64, 8)
    finally:
        process.terminate()
    ideal = math.ceil(64 / 8) * 1.0
    print(
        f"64 cells, latency 1 s, concurrency 8: wall {got['wall']:.2f} s, ideal {ideal:.2f} s, "
        f"ratio {got['wall'] / ideal:.3f} (target <= 1.10)"
    )

    process, url = simulator(0.0)
    try:
        started = time.perf_counter()
        got = sweep(url, 1000, 8)
        elapsed = time.perf_counter() - started
    finally:
        process.terminate()
    bare = float(
        subprocess.run(
            [sys.executable, "-c", BARE], capture_output=True, text=True, check=True
        ).stdout
    )
    print(
        f"1,000 cells, zero latency: {got['done']:.0f} done in {elapsed:.1f} s; peak RSS "
        f"{got['peak_mb']:.0f} MB (target < 300 MB), {got['peak_mb'] / bare:.2f}x a bare import "
        f"({bare:.0f} MB)"
    )


if __name__ == "__main__":
    main()
