"""NLLB-200 (M2M100 architecture) ported to MLX: model, tokenizer, greedy decoding, loading."""

from streamtts import blas

# Before any module of this package imports MLX: its CPU products then run on OpenBLAS.
blas.load()
