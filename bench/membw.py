"""Memory bandwidth of this machine: the floor under a single-sentence decode step.

A single-sentence decode step is a matrix-vector product per weight matrix, so it is
bound by how fast this machine streams weights from DRAM. The bandwidth that matters is
therefore the best *read* rate we can reach here: a streaming reduction over a buffer far
larger than the caches (numpy's sum is vectorised and reads each byte once), taken with one
thread and with one thread per core, keeping the fastest. Dividing the bytes a decode step
must read by this figure gives the floor that no engine can beat on this machine.

Run as ``.venv/bin/python -m bench.membw`` to print the figure and the machine it is taken on.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

from bench.common import machine_info, parse_args

BUFFER_BYTES = 1 << 30  # 1 GiB: far past any cache, small enough to share the machine


def read_bandwidth_gbs(*, nbytes: int = BUFFER_BYTES, repeats: int = 7) -> dict[str, float]:
    """Measure streaming read bandwidth in GB/s (1e9 bytes/s): median over ``repeats``.

    Returns ``{"1 thread": x, "N threads": y, "best": max}`` where N is the core count.
    """
    data = np.ones(nbytes // 4, dtype=np.float32)
    threads = os.cpu_count() or 1
    parts = np.array_split(data, threads)

    def one_thread() -> None:
        data.sum()

    def all_threads() -> None:
        # numpy releases the GIL inside the reduction, so the parts are read in parallel.
        workers = [threading.Thread(target=part.sum) for part in parts]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    result = {}
    for label, run in (("1 thread", one_thread), (f"{threads} threads", all_threads)):
        run()  # warm-up: faults the pages in and wakes the cores
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        result[label] = data.nbytes / float(np.median(times)) / 1e9
    result["best"] = max(result.values())
    return result


def main() -> None:
    """Print the machine and its read bandwidth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=BUFFER_BYTES >> 20, help="buffer size")
    parser.add_argument("--repeats", type=int, default=7, help="timed reads, median kept")
    args = parse_args(parser, smoke={"mib": 64, "repeats": 1}, writes=False)
    for key, value in machine_info().items():
        print(f"{key}: {value}")
    for label, gbs in read_bandwidth_gbs(nbytes=args.mib << 20, repeats=args.repeats).items():
        print(f"read bandwidth, {label}: {gbs:.1f} GB/s")


if __name__ == "__main__":
    main()
