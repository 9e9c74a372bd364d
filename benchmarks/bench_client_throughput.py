"""32 predictions against the simulator (1 s latency) with concurrency 4.

The ideal is 8 waves of 1 s = 8 s; prints our wall time as a ratio to it,
for polling (the default) and for sync mode. Target: at most 1.10.

    python benchmarks/bench_client_throughput.py [--predictions N] [--concurrency N] [--latency S]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time

from kontext_widgets import Client, samples
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer


async def _run(url: str, count: int, concurrency: int, sync: bool) -> float:
    async with Client(base_url=url, max_concurrency=concurrency) as client:
        image = await client.upload(samples.path("person"))  # uploads are not what we time
        started = time.perf_counter()
        await asyncio.gather(
            *(
                client.run(prompt="benchmark", images=[image], seed=i, enable_sync_mode=sync)
                for i in range(count)
            )
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    ideal = math.ceil(args.predictions / args.concurrency) * args.latency
    with SimulatorServer(SimulatorConfig(latency_s=args.latency, state_dir=None)) as server:
        for mode, sync in (("polling", False), ("sync mode", True)):
            wall = asyncio.run(_run(server.url, args.predictions, args.concurrency, sync))
            print(
                f"{mode:9}: {args.predictions} predictions, concurrency {args.concurrency}, "
                f"latency {args.latency} s: wall {wall:.2f} s, ideal {ideal:.2f} s, "
                f"ratio {wall / ideal:.3f} (target <= 1.10)"
            )
        stats = server.stats()
        print(f"simulator: {stats['submits']} submits, {stats['polls']} polls")


if __name__ == "__main__":
    main()
