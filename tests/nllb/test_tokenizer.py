"""NllbTokenizer against transformers' NllbTokenizer on the SentencePiece model trained here."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import sentencepiece

from streamtts.nllb.tokenizer import LANGUAGE_CODES, NllbTokenizer, language_code_ids

ENGLISH = (
    "The build passed after I fixed the import order",
    "Let me check the test output first",
    "I've updated `pyproject.toml` and re-run the suite",
    "Done! All 42 tests pass (3 skipped).",
    "It's 3:45 p.m., and the cache is 1.5 GiB",
    "Hmm... that's odd — the file isn't there",
    "\"Quoted\" and 'single-quoted' words; semicolons: yes",
)
JAPANESE = (
    "こんにちは、世界。",
    "今日はいい天気ですね！",
    "翻訳モデルを使って音声合成を行います",
    "テストがすべて通りました（３件スキップ）。",
    "「ファイルが見つかりません」と表示されました？",
    "ｶﾀｶﾅとカタカナ、ＡＢＣと１２３",
    "〜々ー・※【注意】",
)
CODE = (
    "def f(x): return x ** 2",
    'if (a && b) { c[i] = "s"; }',
    "for i in range(10):\n    print(i)",
    "$ pip install -e '.[dev]'  # editable",
    "https://example.com/a?b=1&c=%20",
    "~/src/streamtts/nllb/tokenizer.py:42",
    "x != y || z >= 0x1F",
    "@dataclass(frozen=True)",
)
EMOJI = ("🙂", "👍🏽", "🇯🇵", "👩‍💻", "✅", "🚀🔥", "❤️")
# Characters that NFKC normalization, combining marks or control codes make interesting.
ODD = ("é", "é", "ß", "ﬁ", "①", "ℌ", "Ω", "½", "™", "▁", "\x00", "\x7f", "\ufeff", "Ё")
JOINERS = (" ", "", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0", "\u200b", " \n ", "\u2028")
EDGES = ("", " ", "  ", "\t", "\n", "\u3000", "\xa0", "\u200b", " x", "x ", "  x  y  ", "\tx\t")


def make_texts(n: int = 1200, seed: int = 0) -> list[str]:
    """Deterministic strings: English, Japanese, code, emoji, odd characters, whitespace."""
    rng = random.Random(seed)
    pools = (ENGLISH, JAPANESE, CODE, EMOJI, ODD, EDGES)
    texts = [*ENGLISH, *JAPANESE, *CODE, *EMOJI, *ODD, *EDGES]
    while len(texts) < n:
        parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.3:  # cut inside a fragment, as streamed text often is
            parts[-1] = parts[-1][: rng.randint(0, len(parts[-1]))]
        texts.append("".join(p + rng.choice(JOINERS) for p in parts[:-1]) + parts[-1])
    return texts


@pytest.fixture(scope="module")
def tokenizer(spm_model: Path) -> NllbTokenizer:
    return NllbTokenizer.from_file(spm_model)


@pytest.fixture(scope="module")
def reference(spm_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """transformers' NllbTokenizer converted from the same SentencePiece model."""
    from transformers import NllbTokenizer as ReferenceTokenizer

    directory = tmp_path_factory.mktemp("hf-tokenizer")
    shutil.copy(spm_model, directory / "sentencepiece.bpe.model")
    return ReferenceTokenizer.from_pretrained(directory)


def reference_piece_ids(reference, text: str) -> list[int]:
    """The reference's ids for ``text`` without specials, minus its lone trailing ``▁``.

    transformers' converted tokenizer turns trailing whitespace into a ``▁`` piece where
    SentencePiece (and so NLLB's training data) has none; test_trailing_whitespace pins it.
    """
    ids = reference(text, add_special_tokens=False).input_ids
    if ids and ids[-1] == reference.convert_tokens_to_ids("▁"):
        return ids[:-1]
    return ids


def test_language_codes_follow_the_real_checkpoint():
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    assert tuple(FAIRSEQ_LANGUAGE_CODES) == LANGUAGE_CODES
    ids = language_code_ids(256000)
    assert (ids["ace_Arab"], ids["eng_Latn"], ids["jpn_Jpan"]) == (256001, 256047, 256079)
    assert ids["zul_Latn"] == 256202


def test_vocabulary_layout(tokenizer: NllbTokenizer, spm_model: Path):
    sp = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
    size = sp.get_piece_size()
    assert (tokenizer.bos_id, tokenizer.pad_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2, 3)
    assert len(tokenizer) == size + 1 + 202 + 1
    assert tokenizer.lang_id("eng_Latn") == size + 1 + 46
    assert tokenizer.lang_id("jpn_Jpan") == size + 1 + 78
    assert [tokenizer.piece(i) for i in range(4)] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert tokenizer.piece(4) == sp.id_to_piece(3)
    assert tokenizer.piece(size) == sp.id_to_piece(size - 1)
    assert tokenizer.piece(size + 1) == "ace_Arab"
    assert tokenizer.piece(len(tokenizer) - 1) == "<mask>"
    assert [tokenizer.is_special(i) for i in (0, 3, 4, size, size + 1, len(tokenizer) - 1)] == [
        True,
        True,
        False,
        False,
        True,
        True,
    ]


def test_encode_matches_transformers(tokenizer: NllbTokenizer, reference):
    texts = make_texts()
    assert len(texts) >= 1000
    lang = tokenizer.lang_id("jpn_Jpan")
    for text in texts:
        ids = tokenizer.encode(text, "jpn_Jpan")
        assert ids == [lang, *reference_piece_ids(reference, text), 2], repr(text)


def test_decode_matches_transformers(tokenizer: NllbTokenizer, reference):
    for text in make_texts():
        ids = tokenizer.encode(text, "eng_Latn")[1:]
        assert tokenizer.decode(ids) == reference.decode(ids, skip_special_tokens=True)


def test_decode_matches_transformers_on_arbitrary_ids(tokenizer: NllbTokenizer, reference):
    # Generated output is any id sequence, not only what encoding produces.
    rng = random.Random(1)
    pieces = len(reference) - 1  # the reference numbers <mask> right after the pieces
    for _ in range(1000):
        ids = [rng.randrange(pieces) for _ in range(rng.randint(0, 24))]
        assert tokenizer.decode(ids) == reference.decode(ids, skip_special_tokens=True), ids


def test_decode_drops_language_codes_and_mask(tokenizer: NllbTokenizer):
    ids = tokenizer.encode("Let me check", "eng_Latn")
    codes = [tokenizer.lang_id("jpn_Jpan"), len(tokenizer) - 1]
    assert tokenizer.decode([*codes, *ids]) == "Let me check"


def test_trailing_whitespace_adds_no_piece(tokenizer: NllbTokenizer, reference):
    ids = tokenizer.encode("Let me check ", "eng_Latn")
    assert ids == tokenizer.encode("Let me check", "eng_Latn")
    transformers_ids = reference("Let me check ", add_special_tokens=False).input_ids
    assert transformers_ids == [*ids[1:-1], reference.convert_tokens_to_ids("▁")]


def test_special_token_text_stays_text(tokenizer: NllbTokenizer, reference):
    text = "the </s> <pad> eng_Latn"
    ids = tokenizer.encode(text, "eng_Latn")[1:-1]
    # "_" is not in this small vocabulary, so <unk> is the one special id.
    assert [i for i in ids if tokenizer.is_special(i)] == [tokenizer.unk_id]
    assert tokenizer.decode(ids) == "the </s> <pad> engLatn"
    # transformers reads the same text as control tokens.
    assert 2 in reference(text, add_special_tokens=False).input_ids


def test_encode_batch_equals_encode(tokenizer: NllbTokenizer):
    texts = make_texts(100, seed=2)
    assert tokenizer.encode_batch(texts, "eng_Latn") == [
        tokenizer.encode(t, "eng_Latn") for t in texts
    ]


def test_errors_name_the_problem(tokenizer: NllbTokenizer, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown NLLB language code 'jp'"):
        tokenizer.encode("hi", "jp")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.piece(len(tokenizer))
    with pytest.raises(FileNotFoundError, match="no SentencePiece model"):
        NllbTokenizer.from_file(tmp_path / "missing.model")
