"""Hugging Face checkpoint → MLX model directory (installed as ``streamtts.convert``).

The only code in the project that imports torch.
"""

from streamtts import blas

# Before checkpoint.py imports MLX (see streamtts/blas.py).
blas.load()
