"""How many threads MLX's CPU products get, and through which of MKL's threading layers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamtts import blas


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 8),  # the CPUs, at most MAX_THREADS
        ({"OMP_NUM_THREADS": "2"}, 2),
        ({"STREAMTTS_THREADS": "3", "OMP_NUM_THREADS": "2"}, 3),
        ({"STREAMTTS_THREADS": "12"}, 12),  # asked for: not capped
        ({"STREAMTTS_THREADS": "0", "OMP_NUM_THREADS": "x"}, 8),  # not a count: passed over
        ({"STREAMTTS_THREADS": " 1 "}, 1),
    ],
)
def test_threads_come_from_the_environment_else_the_cpus(environ, expected) -> None:
    assert blas.threads(environ, cpus=16) == expected


def test_threads_of_a_small_machine_are_its_cpus() -> None:
    assert blas.threads({}, cpus=2) == 2


def test_mkl_runs_intel_openmp_for_several_threads_when_pip_brought_it(tmp_path: Path) -> None:
    mkl = tmp_path / "libmkl_rt.so.2"
    assert blas.mkl_layer(str(mkl), 2) == "SEQUENTIAL"  # no libiomp5 beside it
    (tmp_path / "libiomp5.so").touch()
    assert blas.mkl_layer(str(mkl), 2) == "INTEL"
    assert blas.mkl_layer(str(mkl), 1) == "SEQUENTIAL"


# Runs a product as big as a decode step's feed-forward matrix and counts this process's
# threads before and after: a BLAS that runs its own threads inside each call has started
# them by then. MLX's CPU stream starts its own thread with the first evaluation.
THREADS_AFTER_A_PRODUCT = """
import os
import streamtts.nllb
from streamtts import blas
import mlx.core as mx
mx.eval(mx.array(1) + 1)
before = len(os.listdir("/proc/self/task"))
x, w = mx.random.normal((1, 1024)), mx.random.normal((4096, 1024))
mx.eval(x @ w.T)
print(blas.in_use(), "|", len(os.listdir("/proc/self/task")) - before)
"""


def _threads_after_a_product(env: dict[str, str]) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_NUM_THREADS", "_LAYER"))}
    done = subprocess.run(
        [sys.executable, "-c", THREADS_AFTER_A_PRODUCT],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
    )
    name, grown = done.stdout.rsplit("|", 1)
    return name.strip(), int(grown)


@pytest.mark.skipif(blas._find_mkl() is None, reason="no MKL here")
def test_two_threads_run_mkl_on_intel_openmp_and_one_runs_it_sequential() -> None:
    name, grown = _threads_after_a_product({"STREAMTTS_BLAS": "mkl", "STREAMTTS_THREADS": "2"})
    assert name.startswith("MKL ")
    assert name.endswith("(2 threads, Intel OpenMP)")
    assert grown == 1  # OpenMP's second worker; the stream's thread is the first
    name, grown = _threads_after_a_product({"STREAMTTS_BLAS": "mkl", "STREAMTTS_THREADS": "1"})
    assert name.endswith("(sequential)")
    assert grown == 0


@pytest.mark.skipif(blas._find_openblas() is None, reason="no OpenBLAS here")
def test_openblas_gets_the_threads_asked_for() -> None:
    env = {"STREAMTTS_BLAS": "openblas", "OMP_NUM_THREADS": "2"}
    name, _ = _threads_after_a_product(env)
    assert name.startswith("OpenBLAS ")
    assert name.endswith("(2 threads)")
    name, _ = _threads_after_a_product({**env, "STREAMTTS_THREADS": "1"})
    assert name.endswith("(1 thread)")
