"""Translators: English sentences in, Japanese out (NLLB-200 on MLX, or none, or auto)."""
