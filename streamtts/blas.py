"""Which BLAS MLX's CPU matrix products run on: MKL or the system's OpenBLAS when present.

The ``mlx[cpu]`` wheel for Linux links a bundled reference (netlib) BLAS, which multiplies
matrices at about 2 GFLOP/s; MLX hands every float32 product on the CPU to ``cblas_sgemm``.
Opening another BLAS with ``RTLD_GLOBAL`` *before* the first ``import mlx.core`` puts its
``cblas_*`` symbols ahead of the bundled library's, so MLX's calls go to it without
rebuilding anything. :func:`load` does this once; ``streamtts.nllb`` and
``streamtts.convert`` call it on import, which every entry point reaches before MLX.

Two libraries are looked for, best first. MKL (``libmkl_rt`` in this environment's
``lib/``: a dependency of streamtts on Linux x86-64) runs the one-row products of a decode
step near memory bandwidth.
Debian's OpenBLAS 0.3.21 (``libopenblas0-pthread``) is as fast on whole matrices (the
encoder) but sends a one-row ``sgemm`` through its packing path, 3-5x slower than a
``gemv`` (bench/results/translate*.md); newer OpenBLAS forwards those to ``gemv``.

``STREAMTTS_BLAS`` chooses: ``auto`` (default: MKL, else OpenBLAS, else the wheel's own),
``mkl``, ``openblas``, ``reference`` (the wheel's own BLAS), or a library's path.

Threads (:func:`threads`): ``STREAMTTS_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs
this process may run on (at most 8: a decode step is bound by memory bandwidth, which a
few cores saturate); ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` still win for their own
library. MLX calls ``cblas_sgemm`` from the one worker thread of its CPU stream, so a BLAS
that uses more cores must run its own threads inside each call: OpenBLAS's pthreads do;
MKL does with its Intel OpenMP layer (``libiomp5``, which the ``mkl`` wheel brings along as
``intel-openmp``), chosen whenever more than one thread is asked for. Its GNU OpenMP layer
was 10-20x slower on a decode step's small products in MLX's calling pattern
(bench/results/translate-profile.md), and one thread needs no OpenMP at all (sequential
layer). ``MKL_THREADING_LAYER`` set by the user is kept. macOS needs none of this: MLX
uses Accelerate there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

ENV = "STREAMTTS_BLAS"
THREADS_ENV = "STREAMTTS_THREADS"
MAX_THREADS = 8
# Debian/Ubuntu's multiarch paths first (the pthread build: its threads do not fight
# MLX's own), then whatever the linker cache knows as libopenblas.
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
)

# What in_use() calls MKL's threading layers (MKL_THREADING_LAYER's values).
LAYER_NAMES = {"INTEL": "Intel OpenMP", "GNU": "GNU OpenMP", "TBB": "TBB"}

_state: dict[str, object] = {}


def _find_mkl() -> str | None:
    found = sorted(Path(sys.prefix, "lib").glob("libmkl_rt.so*"))
    return str(found[0]) if found else None


def _find_openblas() -> str | None:
    for path in CANDIDATES:
        if Path(path).is_file():
            return path
    return ctypes.util.find_library("openblas")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def threads(environ: dict[str, str] | None = None, *, cpus: int | None = None) -> int:
    """Threads for MLX's CPU products: ``STREAMTTS_THREADS``, ``OMP_NUM_THREADS``, or the CPUs.

    A value that is not a positive whole number is passed over, as OpenMP does; the CPU
    count is capped at ``MAX_THREADS``, an explicit value is not.
    """
    env = os.environ if environ is None else environ
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = env.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(_cpus() if cpus is None else cpus, MAX_THREADS))


def mkl_layer(mkl_path: str, count: int) -> str:
    """MKL's threading layer for ``count`` threads: Intel OpenMP when it is there, else none.

    ``libiomp5`` sits beside ``libmkl_rt`` when both came from pip (``intel-openmp``).
    """
    if count > 1 and Path(mkl_path).with_name("libiomp5.so").is_file():
        return "INTEL"
    return "SEQUENTIAL"


def load() -> str | None:
    """Open the BLAS that ``STREAMTTS_BLAS`` chooses, once, before MLX is imported.

    Returns the library's path, or None when the wheel's own BLAS stays in use (no
    OpenBLAS, ``STREAMTTS_BLAS=reference``, macOS, or MLX already imported).
    """
    if "path" in _state:
        return _state["path"]  # type: ignore[return-value]
    choice = os.environ.get(ENV, "auto").strip() or "auto"
    path = None
    if sys.platform.startswith("linux") and choice != "reference":
        finders = {"auto": (_find_mkl, _find_openblas), "mkl": (_find_mkl,)}
        finders["openblas"] = (_find_openblas,)
        if choice in finders:
            path = next((p for find in finders[choice] if (p := find())), None)
        else:
            path = choice
    if path and "mlx.core" in sys.modules:
        # Too late: MLX's symbols are already bound to the bundled library.
        _state["late"] = True
        path = None
    if path:
        count = threads()
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(count))
        os.environ.setdefault("MKL_NUM_THREADS", str(count))
        os.environ.setdefault("MKL_THREADING_LAYER", mkl_layer(path, count))
        # Intel OpenMP's workers spin 200 ms after each product by default: on two cores that
        # takes a core from the speech engine and, on a loaded machine, from the product
        # itself. 0 made the decode step faster in 4 of 4 interleaved pairs at load 2.7-8
        # (bench/results/translate-profile.md).
        os.environ.setdefault("KMP_BLOCKTIME", "0")
        try:
            _state["lib"] = ctypes.CDLL(path, mode=os.RTLD_GLOBAL)
        except OSError:
            if choice in ("auto", "mkl", "openblas"):
                path = None  # found but unusable: the wheel's own BLAS still works
            else:
                raise
    _state["path"] = path
    return path


def _resolved_sgemm() -> str | None:
    # The file that defines the cblas_sgemm the dynamic linker hands to a library loaded
    # now (MLX's, if it was loaded after load()); None where dladdr is unavailable.
    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("dli_fname", ctypes.c_char_p),
            ("dli_fbase", ctypes.c_void_p),
            ("dli_sname", ctypes.c_char_p),
            ("dli_saddr", ctypes.c_void_p),
        ]

    try:
        libc = ctypes.CDLL(None)
        address = ctypes.cast(libc.cblas_sgemm, ctypes.c_void_p)
        info = DlInfo()
        if not libc.dladdr(address, ctypes.byref(info)):
            return None
        return info.dli_fname.decode() if info.dli_fname else None
    except (AttributeError, OSError):
        return None


def _threads_phrase(count: int) -> str:
    return "1 thread" if count == 1 else f"{count} threads"


def in_use() -> str:
    """One short phrase naming the BLAS behind MLX's CPU products, e.g. for ``--stats``.

    ``MKL 2026.2 (2 threads, Intel OpenMP)``, ``MKL 2026.2 (sequential)``, ``OpenBLAS
    0.3.21 (2 threads)``, ``reference BLAS (mlx wheel)``, or ``Accelerate``.
    """
    if sys.platform == "darwin":
        return "Accelerate"
    lib = _state.get("lib")
    if lib is not None and hasattr(lib, "MKL_Get_Version_String"):
        text = ctypes.create_string_buffer(256)
        lib.MKL_Get_Version_String(text, len(text))
        words = text.value.decode().split()
        version = next((w for w in words if w[:1].isdigit()), "").split("-")[0]
        layer = os.environ.get("MKL_THREADING_LAYER", "").upper()
        if layer == "SEQUENTIAL":
            return f"MKL {version} (sequential)"
        openmp = LAYER_NAMES.get(layer, layer.lower())
        return f"MKL {version} ({_threads_phrase(lib.MKL_Get_Max_Threads())}, {openmp})"
    if lib is not None:
        try:
            lib.openblas_get_config.restype = ctypes.c_char_p
            config = lib.openblas_get_config().decode()
            count = lib.openblas_get_num_threads()
        except AttributeError:
            return f"BLAS {Path(str(_state['path'])).name}"
        version = config.split()[1] if config.startswith("OpenBLAS ") else ""
        return f"OpenBLAS {version} ({_threads_phrase(count)})".replace("  ", " ")
    why = " (mlx imported before streamtts.blas)" if _state.get("late") else ""
    return f"reference BLAS (mlx wheel){why}"


def resolved_library() -> str | None:
    """Path of the library that defines the ``cblas_sgemm`` new code binds to (a check)."""
    return _resolved_sgemm()
