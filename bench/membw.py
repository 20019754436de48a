"""Memory bandwidth and machine description for the benchmarks.

A single-sentence decode step is a matrix-vector product per weight matrix, so it is
bound by how fast this machine streams weights from DRAM. The bandwidth that matters is
therefore the best *read* rate we can reach here: a streaming reduction over a buffer far
larger than the caches (numpy's sum is vectorised and reads each byte once), taken with one
thread and with one thread per core, keeping the fastest. Dividing the bytes a decode step
must read by this figure gives the floor that no engine can beat on this machine.

Run as ``.venv/bin/python bench/membw.py`` to print the figure alone.
"""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from importlib import metadata

import numpy as np

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


def machine_info() -> dict[str, str]:
    """Describe this machine: CPU model, cores, memory, OS, and the load when asked."""
    cpu = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass  # macOS has no lscpu; platform's answer is the best we have there
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_gib:.1f} GiB",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "load average (1, 5, 15 min)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def package_versions(names: list[str]) -> dict[str, str]:
    """Installed versions of ``names`` ("missing" for those not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


if __name__ == "__main__":
    for key, value in machine_info().items():
        print(f"{key}: {value}")
    for label, gbs in read_bandwidth_gbs().items():
        print(f"read bandwidth, {label}: {gbs:.1f} GB/s")
