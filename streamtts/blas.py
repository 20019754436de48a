"""Which BLAS MLX's CPU matrix products run on: the system's OpenBLAS when it has one.

The ``mlx[cpu]`` wheel for Linux links a bundled reference (netlib) BLAS, which multiplies
matrices at about 2 GFLOP/s; MLX hands every float32 product on the CPU to ``cblas_sgemm``.
Opening Debian's OpenBLAS (``libopenblas0-pthread``) with ``RTLD_GLOBAL`` *before* the first
``import mlx.core`` puts its ``cblas_*`` symbols ahead of the bundled library's, so MLX's
calls go to OpenBLAS without rebuilding anything (the NLLB encoder runs ~20x faster, a
decode step ~2x). :func:`load` does this once; ``streamtts.nllb`` and ``streamtts.convert``
call it on import, which every entry point reaches before it imports MLX.

``STREAMTTS_BLAS`` chooses: ``auto`` (default: OpenBLAS when found), ``reference`` (the
wheel's own BLAS), or the path of a BLAS library to open. OpenBLAS's thread count is
``OPENBLAS_NUM_THREADS`` when set, else the CPUs this process may run on (at most 8: a
decode step is bound by memory bandwidth, which a few cores saturate). macOS needs none
of this: MLX uses Accelerate there.
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
        path = _find_openblas() if choice == "auto" else choice
    if path and "mlx.core" in sys.modules:
        # Too late: MLX's symbols are already bound to the bundled library.
        _state["late"] = True
        path = None
    if path:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_threads()))
        try:
            _state["lib"] = ctypes.CDLL(path, mode=os.RTLD_GLOBAL)
        except OSError:
            if choice != "auto":
                raise
            path = None
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

    ``OpenBLAS 0.3.21 (2 threads)``, ``reference BLAS (mlx wheel)``, or ``Accelerate``.
    """
    if sys.platform == "darwin":
        return "Accelerate"
    lib = _state.get("lib")
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
