"""One translation engine per process: load, warm up, time the encoder and whole sentences.

Each engine runs in a fresh process (``bench/translate.py`` starts it as
``python -m bench.translate_engines``, a spec as JSON on stdin) so that its peak RSS
is its own and the MLX, PyTorch and CTranslate2 thread pools never compete. Every engine
gets the same source ids and produces the same number of tokens: greedy decoding forced
to ``new_tokens`` tokens after the target-language token, end-of-sentence disabled. The
encoder is timed on its own, before each sentence; the decode step is derived as
``(sentence − encoder) / new_tokens``, so it carries each engine's own per-sentence
overheads (transformers' extra step for the forced language token, CTranslate2's
cross-attention projections) instead of hiding them.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WARMUP_TOKENS = 4
# Thread-pool variables set to the same count for every engine (OpenMP, MKL, OpenBLAS).
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return (time.perf_counter() - start) * 1e3, result


def _measure(
    spec: dict[str, Any],
    encode: Callable[[list[int]], None],
    translate: Callable[[list[int], int], list[int]],
) -> dict[str, Any]:
    """Warm up, then per sentence: encoder ms, sentence ms and tokens, within the time budget."""
    sources = spec["sources"]
    encode(sources[0])
    translate(sources[0], WARMUP_TOKENS)
    encoder_ms, sentence_ms, tokens = [], [], []
    started = time.perf_counter()
    for src in sources:
        ms, _ = _timed(lambda src=src: encode(src))
        encoder_ms.append(ms)
        ms, out = _timed(lambda src=src: translate(src, spec["new_tokens"]))
        sentence_ms.append(ms)
        tokens.append(out)
        spent = time.perf_counter() - started
        if len(tokens) >= spec["min_sentences"] and spent > spec["budget_s"]:
            break
    return {"encoder_ms": encoder_ms, "sentence_ms": sentence_ms, "tokens": tokens}


def run_mlx(spec: dict[str, Any]) -> dict[str, Any]:
    """The streamtts MLX port, through its public load and generate."""
    from streamtts import blas

    blas.load()  # before MLX is first imported, as streamtts.nllb does
    import mlx.core as mx

    if spec["device"] == "cuda":
        mx.set_default_device(mx.gpu)  # mlx[cuda]: the GPU is MLX's "gpu" device

    from streamtts.nllb.generate import GenerateOptions, generate, pad_batch
    from streamtts.nllb.load import load

    started = time.perf_counter()
    bundle = load(Path(spec["model_dir"]))
    load_ms = (time.perf_counter() - started) * 1e3
    model = bundle.model

    def encode(src: list[int]) -> None:
        ids, mask = pad_batch([src], model.args.pad_token_id)
        mx.eval(model.encode(ids, mask))

    def translate(src: list[int], new_tokens: int) -> list[int]:
        options = GenerateOptions.raw(max_new_tokens=new_tokens, eos=False)
        return generate(bundle, [src], tgt_lang_id=spec["tgt_lang_id"], options=options)[0]

    result = _measure(spec, encode, translate)
    result["load_ms"] = load_ms
    if spec["device"] == "cuda":
        result["threads"] = f"MLX on {mx.device_info().get('device_name', 'the GPU')}"
    else:
        result["threads"] = f"MLX CPU; matmuls in {blas.in_use()} ({blas.resolved_library()})"
    return result


def run_torch(spec: dict[str, Any]) -> dict[str, Any]:
    """transformers' M2M100 on PyTorch: ``generate`` greedy with KV cache, EOS masked."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList, M2M100ForConditionalGeneration

    torch.set_num_threads(spec["threads"])
    device = spec["device"]
    model = M2M100ForConditionalGeneration.from_pretrained(spec["model_dir"]).eval().to(device)
    lang = spec["tgt_lang_id"]

    class KeepOnly(LogitsProcessor):
        """Scores outside ``ids`` become -inf: the full head restricted to a pruned head's rows."""

        def __init__(self, ids: list[int]) -> None:
            self.mask = torch.full((model.config.vocab_size,), float("-inf"), device=device)
            self.mask[ids] = 0.0

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            return scores + self.mask

    def generate(src: list[int], new_tokens: int, processors: list) -> list[int]:
        # +1: transformers spends a step producing the forced language token.
        out = model.generate(
            input_ids=torch.tensor([src], device=device),
            num_beams=1,
            do_sample=False,
            use_cache=True,
            forced_bos_token_id=lang,
            min_new_tokens=new_tokens + 1,
            max_new_tokens=new_tokens + 1,
            logits_processor=LogitsProcessorList(processors),
        )
        return out[0, 2:].tolist()  # drop the start token </s> and the language token

    def encode(src: list[int]) -> None:
        model.get_encoder()(input_ids=torch.tensor([src], device=device))
        if device == "cuda":
            torch.cuda.synchronize()  # the encoder's kernels, not just their launch

    with torch.inference_mode():
        result = _measure(spec, encode, lambda src, n: generate(src, n, []))
        if spec["reference"]:
            # The reference for the other engines covers every sentence, timed or not.
            untimed = spec["sources"][len(result["tokens"]) :]
            result["tokens"] += [generate(src, spec["new_tokens"], []) for src in untimed]
        if spec["keep_ids"]:
            keep = [KeepOnly(spec["keep_ids"])]
            result["restricted_tokens"] = [
                generate(src, spec["new_tokens"], keep) for src in spec["sources"]
            ]
    result["threads"] = f"torch.set_num_threads({spec['threads']}), {device}"
    return result


def run_ct2(spec: dict[str, Any]) -> dict[str, Any]:
    """CTranslate2 greedy decoding.

    CTranslate2 has no encoder-only call for translators: its encoder time is a translation
    that stops at the language token (encoder plus that one decoder step).
    """
    import ctranslate2

    model_dir = Path(spec["model_dir"])
    vocab = json.loads((model_dir / "shared_vocabulary.json").read_text())
    index = {token: i for i, token in enumerate(vocab)}
    translator = ctranslate2.Translator(
        str(model_dir), device=spec["device"], intra_threads=spec["threads"], inter_threads=1
    )
    prefix = [[vocab[spec["tgt_lang_id"]]]]

    def translate(src: list[int], new_tokens: int) -> list[int]:
        # CTranslate2 counts the target prefix (the language token) in the decoding length.
        (result,) = translator.translate_batch(
            [[vocab[i] for i in src]],
            target_prefix=prefix,
            beam_size=1,
            min_decoding_length=new_tokens + 1,
            max_decoding_length=new_tokens + 1,
        )
        return [index[token] for token in result.hypotheses[0][1:]]

    result = _measure(spec, lambda src: translate(src, 0), translate)
    result["threads"] = f"intra_threads={spec['threads']}, {spec['device']}"
    return result


ENGINES = {"mlx": run_mlx, "torch": run_torch, "ct2": run_ct2}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (1e6 bytes).

    Linux: VmHWM, which starts afresh at exec; ``ru_maxrss`` would carry over the peak of
    the parent this worker was forked from.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # macOS: bytes


def main() -> None:
    """Read a spec as JSON on stdin, run its engine, print the result as JSON on stdout."""
    spec = json.load(sys.stdin)
    result = ENGINES[spec["kind"]](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
