"""What the Japanese head pruning keeps, and what Japanese text it can still write.

Usage: ``.venv/bin/python -m bench.vocab_pruning [--shape full|quick]``

Two figures for ``streamtts.convert.vocab.japanese_token_ids``:

- kept: its share of the benchmarks' synthetic 256,000-piece vocabulary
  (``bench/nllb_models.py``: pieces shared out by script like NLLB's 202 languages;
  16,000 pieces with ``--shape quick``).
- lossless: a SentencePiece BPE model (NLLB's settings) is trained on the English,
  Japanese and code corpus of the tests plus the even lines of
  ``bench/data/japanese-mixed.txt`` (Japanese prose and Japanese mixed with code, as a
  coding agent writes it); on the odd, held-out lines it counts the lines whose usual
  segmentation uses kept pieces only, and the lines that some segmentation into kept
  pieces can still write exactly (the pruned model can only emit kept pieces).

The real NLLB vocabulary cannot be downloaded here: both figures stand in for it.
"""

from __future__ import annotations

import argparse

from bench import nllb_models as models
from bench.common import data_lines, parse_args


def segmentable(text: str, pieces: set[str], longest: int) -> bool:
    """Whether ``text`` (SentencePiece-normalized) splits exactly into ``pieces``."""
    reachable = [True] + [False] * len(text)
    for end in range(1, len(text) + 1):
        reachable[end] = any(
            reachable[start] and text[start:end] in pieces
            for start in range(max(0, end - longest), end)
        )
    return reachable[-1]


def main() -> None:
    """Print the kept share and the held-out lossless shares."""
    import sentencepiece

    from streamtts.convert.vocab import japanese_token_ids
    from streamtts.nllb.tokenizer import WORD_MARKER, NllbTokenizer
    from tests.builders import make_corpus, train_spm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("full", "quick"), default="full")
    args = parse_args(parser, smoke={"shape": "quick"}, writes=False)
    shape = {"full": models.full_shape, "quick": models.quick_shape}[args.shape]()
    spm = models.cache_dir(shape) / "synthetic.spm.model"
    if not spm.is_file():
        spm.parent.mkdir(parents=True, exist_ok=True)
        models.write_spm_model(spm, shape.sp_size)
    synthetic = NllbTokenizer.from_file(spm)
    kept = japanese_token_ids(synthetic)
    print(
        f"synthetic {shape.sp_size // 1000}k vocabulary: kept {len(kept)} of {len(synthetic)} "
        f"({len(kept) / len(synthetic):.1%})"
    )

    lines = data_lines("japanese-mixed.txt")
    train, held_out = lines[0::2], lines[1::2]
    model = train_spm(make_corpus() + train, vocab_size=1200)
    processor = sentencepiece.SentencePieceProcessor(model_proto=model)
    tokenizer = NllbTokenizer(processor)
    kept_ids = set(japanese_token_ids(tokenizer))
    kept_pieces = {tokenizer.piece(i) for i in kept_ids if not tokenizer.is_special(i)}
    longest = max(map(len, kept_pieces))
    print(
        f"trained {len(processor)}-piece vocabulary: kept {len(kept_ids)} of {len(tokenizer)} "
        f"({len(kept_ids) / len(tokenizer):.1%})"
    )
    # The small trained vocabulary lacks many held-out kanji (<unk> with or without pruning):
    # those characters are left out, so that what is counted is what pruning loses.
    every = [tokenizer.piece(i) for i in range(len(tokenizer)) if not tokenizer.is_special(i)]
    known = {char for piece in every for char in piece}
    usual = exact = 0
    for line in held_out:
        text = "".join(c for c in "".join(processor.encode(line, out_type=str)) if c in known)
        ids = tokenizer._to_fairseq(processor.encode(text.replace(WORD_MARKER, " ").strip()))
        usual += set(ids) <= kept_ids
        exact += segmentable(text, kept_pieces | {WORD_MARKER}, longest)
    n = len(held_out)
    print(
        f"held-out lines: {n}; usual segmentation all kept {usual}/{n} ({usual / n:.0%}), "
        f"writable exactly with kept pieces {exact}/{n} ({exact / n:.0%})"
    )


if __name__ == "__main__":
    main()
