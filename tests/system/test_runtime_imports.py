"""The speaking path's start-up: what it imports, and which BLAS its matrix products use."""

from __future__ import annotations

import os
import re
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
    assert imported_by("import streamtts.cli, streamtts.daemon.server", heavy) == []


def test_the_daemon_imports_neither_the_stdin_nor_the_transcript_reader() -> None:
    readers = ("streamtts.reading.stream", "streamtts.reading.transcript", "streamtts.session")
    assert imported_by("import streamtts.daemon.server", readers) == []


MLX_SGEMM_BINDING = re.compile(
    r"binding file \S*/libmlx\.so \[0\] to (\S+) \[0\]: normal symbol `cblas_sgemm'"
)
PRODUCT = """
import streamtts.nllb
from streamtts import blas
import mlx.core as mx
a = mx.random.normal((64, 64))
mx.eval(a @ a)
print(blas.in_use())
"""


def _product(env: dict[str, str]) -> tuple[str, Path]:
    """The BLAS name a process reports, and the library its ``libmlx`` bound ``cblas_sgemm``
    to, as the dynamic linker says (``LD_DEBUG=bindings``): a fact, not a timing."""
    done = subprocess.run(
        [sys.executable, "-c", PRODUCT],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env, "LD_DEBUG": "bindings"},
    )
    [target] = MLX_SGEMM_BINDING.findall(done.stderr)
    return done.stdout.strip(), Path(target).resolve()


@pytest.mark.skipif(sys.platform != "linux", reason="MLX binds a BLAS of our choice on Linux")
@pytest.mark.parametrize(
    ("choice", "name", "find"),
    [("openblas", "OpenBLAS ", blas._find_openblas), ("mkl", "MKL ", blas._find_mkl)],
)
def test_the_chosen_blas_is_what_mlx_multiplies_with(choice: str, name: str, find) -> None:
    if find() is None:
        pytest.skip(f"no {choice} here")
    used, library = _product({"STREAMTTS_BLAS": choice})
    assert used.startswith(name)
    assert library == Path(find()).resolve()
    reference, library = _product({"STREAMTTS_BLAS": "reference"})
    assert reference == "reference BLAS (mlx wheel)"
    assert library.parent.name == "mlx_cpu.libs" and library.name.startswith("libblas")


def test_blas_in_use_names_the_library_mlx_binds_to() -> None:
    # conftest imports streamtts.nllb first, so this process made its choice before MLX.
    name = blas.in_use()
    if blas.load() is None:
        assert name.startswith(("reference BLAS", "Accelerate"))
    else:
        assert name.startswith(("OpenBLAS ", "MKL "))
        assert blas.resolved_library() == blas.load()
