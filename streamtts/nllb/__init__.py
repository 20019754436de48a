"""NLLB-200 (M2M100 architecture) ported to MLX: model, tokenizer, greedy decoding, loading."""
