"""Hugging Face checkpoint → MLX model directory (installed as ``streamtts.convert``).

The only code in the project that imports torch.
"""
