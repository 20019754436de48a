"""The speaking path's start-up: what it imports, and which BLAS its matrix products use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamtts import blas

# Loads and runs a converted model the way `streamtts translate` does, then lists which of
# the heavy modules the speaking path must never pull in were imported after all.
LOAD_AND_TRANSLATE = """
import sys
from pathlib import Path
import streamtts.nllb.load, streamtts.translate
from streamtts.translate import load_translator
translator = load_translator("nllb", model_dir=Path(sys.argv[1]))
assert isinstance(translator.translate(["Hello."])[0], str)
heavy = ("torch", "transformers", "mlx_lm", "streamtts.convert")
print(",".join(name for name in heavy if name in sys.modules))
"""


def test_loading_and_translating_imports_no_torch_transformers_or_mlx_lm(
    speaking_model: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_TRANSLATE, str(speaking_model)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def imported_by(statement: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` a fresh interpreter has imported after ``statement``."""
    probe = f"import sys\n{statement}\nprint(' '.join(n for n in {names!r} if n in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_hook_command_imports_neither_the_cli_framework_nor_model_code() -> None:
    heavy = ("typer", "click", "numpy", "mlx", "onnxruntime", "streamtts.cli", "importlib.metadata")
    assert imported_by("import streamtts.hook", heavy) == []


def test_the_daemon_imports_no_torch_transformers_or_mlx_lm() -> None:
    heavy = ("torch", "transformers", "mlx_lm", "streamtts.convert")
    assert imported_by("import streamtts.cli, streamtts.server", heavy) == []


MATMUL_SECONDS = """
import time
import streamtts.nllb
from streamtts import blas
import mlx.core as mx
a, b = mx.random.normal((384, 768)), mx.random.normal((768, 768))
mx.eval(a @ b)
start = time.perf_counter()
for _ in range(3):
    mx.eval(a @ b)
print(blas.in_use(), "|", time.perf_counter() - start)
"""


def _matmul(env: dict[str, str]) -> tuple[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MATMUL_SECONDS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    name, seconds = done.stdout.rsplit("|", 1)
    return name.strip(), float(seconds)


@pytest.mark.parametrize(
    ("choice", "name", "find"),
    [("openblas", "OpenBLAS ", blas._find_openblas), ("mkl", "MKL ", blas._find_mkl)],
)
def test_the_chosen_blas_is_what_mlx_multiplies_with(choice: str, name: str, find) -> None:
    if find() is None:
        pytest.skip(f"no {choice} here")
    # The reference BLAS runs this product at ~2 GFLOP/s, the others at tens: a margin that
    # a loaded machine cannot close, so the timing shows which library MLX really calls.
    threads = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    used, fast = _matmul({"STREAMTTS_BLAS": choice, **threads})
    assert used.startswith(name)
    reference, slow = _matmul({"STREAMTTS_BLAS": "reference"})
    assert reference == "reference BLAS (mlx wheel)"
    assert slow > 4 * fast


def test_blas_in_use_names_the_library_mlx_binds_to() -> None:
    # conftest imports streamtts.nllb first, so this process made its choice before MLX.
    name = blas.in_use()
    if blas.load() is None:
        assert name.startswith(("reference BLAS", "Accelerate"))
    else:
        assert name.startswith(("OpenBLAS ", "MKL "))
        assert blas.resolved_library() == blas.load()
