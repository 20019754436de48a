"""Which BLAS MLX's CPU matrix products run on: MKL or the system's OpenBLAS when present.

The ``mlx[cpu]`` wheel for Linux links a bundled reference (netlib) BLAS, which multiplies
matrices at about 2 GFLOP/s; MLX hands every float32 product on the CPU to ``cblas_sgemm``.
Opening another BLAS with ``RTLD_GLOBAL`` *before* the first ``import mlx.core`` puts its
``cblas_*`` symbols ahead of the bundled library's, so MLX's calls go to it without
rebuilding anything. :func:`load` does this once; ``streamtts.nllb`` and
``streamtts.convert`` call it on import, which every entry point reaches before MLX.

Two libraries are looked for, best first. MKL (``pip install mkl``: ``libmkl_rt`` in this
environment's ``lib/``) runs the one-row products of a decode step near memory bandwidth.
Debian's OpenBLAS 0.3.21 (``libopenblas0-pthread``) is as fast on whole matrices (the
encoder) but sends a one-row ``sgemm`` through its packing path, 3-5x slower than a
``gemv`` (bench/results/translate*.md); newer OpenBLAS forwards those to ``gemv``.

``STREAMTTS_BLAS`` chooses: ``auto`` (default: MKL, else OpenBLAS, else the wheel's own),
``mkl``, ``openblas``, ``reference`` (the wheel's own BLAS), or a library's path. Threads:
``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` when set, else the CPUs this process may
run on (at most 8: a decode step is bound by memory bandwidth, which a few cores
saturate); MKL runs its sequential layer unless ``MKL_THREADING_LAYER`` says otherwise, so
no OpenMP threads spin beside the speech engine. macOS needs none of this: MLX uses
Accelerate there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

ENV = "STREAMTTS_BLAS"
MAX_THREADS = 8
# Debian/Ubuntu's multiarch paths first (the pthread build: its threads do not fight
# MLX's own), then whatever the linker cache knows as libopenblas.
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
)

_state: dict[str, object] = {}


def _find_mkl() -> str | None:
    found = sorted(Path(sys.prefix, "lib").glob("libmkl_rt.so*"))
    return str(found[0]) if found else None


def _find_openblas() -> str | None:
    for path in CANDIDATES:
        if Path(path).is_file():
            return path
    return ctypes.util.find_library("openblas")


def _threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_THREADS))


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
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_threads()))
        os.environ.setdefault("MKL_NUM_THREADS", str(_threads()))
        os.environ.setdefault("MKL_THREADING_LAYER", "SEQUENTIAL")
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


def in_use() -> str:
    """One short phrase naming the BLAS behind MLX's CPU products, e.g. for ``--stats``.

    ``MKL 2026.0.2 (sequential)``, ``OpenBLAS 0.3.21 (2 threads)``, ``reference BLAS (mlx
    wheel)``, or ``Accelerate``.
    """
    if sys.platform == "darwin":
        return "Accelerate"
    lib = _state.get("lib")
    if lib is not None and hasattr(lib, "MKL_Get_Version_String"):
        text = ctypes.create_string_buffer(256)
        lib.MKL_Get_Version_String(text, len(text))
        words = text.value.decode().split()
        version = next((w for w in words if w[:1].isdigit()), "").split("-")[0]
        layer = os.environ.get("MKL_THREADING_LAYER", "").lower()
        threads = "sequential" if layer == "sequential" else f"{lib.MKL_Get_Max_Threads()} threads"
        return f"MKL {version} ({threads})"
    if lib is not None:
        try:
            lib.openblas_get_config.restype = ctypes.c_char_p
            config = lib.openblas_get_config().decode()
            threads = lib.openblas_get_num_threads()
        except AttributeError:
            return f"BLAS {Path(str(_state['path'])).name}"
        version = config.split()[1] if config.startswith("OpenBLAS ") else ""
        return f"OpenBLAS {version} ({threads} threads)".replace("  ", " ")
    why = " (mlx imported before streamtts.blas)" if _state.get("late") else ""
    return f"reference BLAS (mlx wheel){why}"


def resolved_library() -> str | None:
    """Path of the library that defines the ``cblas_sgemm`` new code binds to (a check)."""
    return _resolved_sgemm()
