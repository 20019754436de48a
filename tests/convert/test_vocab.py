"""japanese_token_ids on hand-built vocabularies, with exact expected id sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentencepiece
from sentencepiece import sentencepiece_model_pb2

from streamtts.convert.vocab import SCRIPTS, japanese_token_ids
from streamtts.nllb.tokenizer import NllbTokenizer

# SentencePiece ids 3.. of a hand-built vocabulary (0-2 are <unk> <s> </s>); full id = sp id + 1.
PIECES = (
    "▁the",  # 4  kept: ▁ and three ASCII letters
    "の",  # 5  kept: hiragana
    "▁東京",  # 6  kept: ideographs
    "ру",  # 7  Cyrillic
    "é",  # 8  Latin beyond ASCII
    "12",  # 9  kept: digits
    "①",  # 10 kept: enclosed number
    "ｶﾀ",  # 11 kept: half-width katakana
    "。",  # 12 kept: CJK punctuation
    "▁",  # 13 kept: the word marker alone
    "🙂",  # 14 an emoji, beyond the common symbols
    "١",  # 15 Arabic-Indic digit
    "Ω",  # 16 Greek
    "a,b",  # 17 kept: Latin and punctuation
    "漢a",  # 18 kept: ideograph and Latin together
    "한",  # 19 Hangul
    "ー",  # 20 kept: katakana prolonged sound mark
    "→",  # 21 kept: a math symbol
    "𠮷",  # 22 kept: an ideograph beyond the BMP
    "ä",  # 23 Latin beyond ASCII
    "ـ",  # 24 Arabic tatweel, a modifier letter
    "،",  # 25 Arabic comma: punctuation of another script
    "▁translation",  # 26 a long Latin word
    "▁Python",  # 27 kept: a common identifier, any case
    "JSON",  # 28 kept: a common identifier, any case
    "★",  # 29 kept: a common symbol
)
SPECIALS = [0, 1, 2, 3]
KEPT_PIECES = [4, 5, 6, 9, 10, 11, 12, 13, 17, 18, 20, 21, 22, 27, 28, 29]


def hand_built(pieces: tuple[str, ...] = PIECES) -> NllbTokenizer:
    """An NllbTokenizer over a SentencePiece model whose pieces are exactly ``pieces``."""
    proto = sentencepiece_model_pb2.ModelProto()
    proto.trainer_spec.model_type = sentencepiece_model_pb2.TrainerSpec.BPE
    proto.normalizer_spec.name = "identity"
    Piece = sentencepiece_model_pb2.ModelProto.SentencePiece
    for text, kind in [("<unk>", Piece.UNKNOWN), ("<s>", Piece.CONTROL), ("</s>", Piece.CONTROL)]:
        proto.pieces.add(piece=text, type=kind)
    for text in pieces:
        proto.pieces.add(piece=text, type=Piece.NORMAL)
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto.SerializeToString())
    return NllbTokenizer(processor)


def test_japanese_keeps_its_scripts_common_characters_specials_and_code():
    tokenizer = hand_built()
    # 29 SentencePiece pieces, the fairseq offset, then jpn_Jpan is language code 78.
    assert tokenizer.lang_id("jpn_Jpan") == 29 + 1 + 78
    assert japanese_token_ids(tokenizer) == [*SPECIALS, *KEPT_PIECES, 108]


def test_a_language_added_to_the_table(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(SCRIPTS, "rus_Cyrl", ((0x0400, 0x04FF),))
    tokenizer = hand_built()
    # The common pieces and ру stay; the Japanese script pieces (。 included) go.
    rus_code = tokenizer.lang_id("rus_Cyrl")
    assert rus_code == 29 + 1 + 146
    assert japanese_token_ids(tokenizer, "rus_Cyrl") == [
        *SPECIALS,
        *[4, 7, 9, 13, 17, 21, 27, 28, 29],
        rus_code,
    ]


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match=r"no script table for 'kor_Hang'; .* knows jpn_Jpan"):
        japanese_token_ids(hand_built(), "kor_Hang")


def test_a_japanese_english_and_code_vocabulary_keeps_japanese_and_code(
    spm_model: Path, spm_corpus: list[str]
):
    tokenizer = NllbTokenizer.from_file(spm_model)
    kept = set(japanese_token_ids(tokenizer))
    pieces = {tokenizer.piece(i): i for i in range(len(tokenizer))}
    # Long English words go; code words and every Japanese piece stay.
    assert pieces["▁translate"] not in kept and pieces["▁sentence"] not in kept
    assert pieces["▁file"] in kept and pieces["▁error"] in kept
    japanese = [line for line in spm_corpus if not any(c.isascii() and c.isalpha() for c in line)]
    assert len(japanese) > 100
    assert all(set(tokenizer.encode(line, "jpn_Jpan")) <= kept for line in japanese)
    assert tokenizer.lang_id("jpn_Jpan") in kept
    assert tokenizer.lang_id("eng_Latn") not in kept
