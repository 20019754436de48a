"""Translators and ``streamtts translate``, end to end through a real ``streamtts convert``.

The checkpoint is a random-weight M2M100 in NLLB's layout (tests/builders.py), so translations
are nonsense Japanese; what is checked is that they are exactly transformers' greedy output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import run_cli

from streamtts.nllb.generate import GenerateOptions
from streamtts.translate import load_translator
from streamtts.translate.auto import AutoTranslator, is_japanese
from streamtts.translate.base import ModelNotFoundError, default_model_dir
from streamtts.translate.names import NameStats, protect, restore, translate_keeping_names
from streamtts.translate.nllb import NllbTranslator

SENTENCES = [
    "Let me check the test output first.",
    "The build passed after I fixed the import order.",
    "I will now read the config file.",
    "This function returns the value of x + 1.",
    "Please wait, it is about 3 seconds faster than before.",
    "Done!",
    "The model streams text to speech while the agent works on code files.",
    "git commit -m 'fix: typo'",
]
MAX_TOKENS = 20


@pytest.fixture
def checkpoint(make_checkpoint: Callable[..., Path], tmp_path: Path) -> Path:
    return make_checkpoint(tmp_path / "hf")


@pytest.fixture
def model_dir(checkpoint: Path, tmp_path: Path) -> Path:
    out = tmp_path / "mlx"
    result = run_cli("convert", "--from", checkpoint, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def transformers_greedy(checkpoint: Path, texts: list[str]) -> list[tuple[list[int], list[int]]]:
    """(source ids, generated ids) per text from transformers, as ``--raw`` promises to match."""
    import torch
    from transformers import AutoTokenizer, M2M100ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(checkpoint, src_lang="eng_Latn")
    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint).eval()
    jpn = tokenizer.convert_tokens_to_ids("jpn_Jpan")
    results = []
    for text in texts:
        src = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(
                **src,
                num_beams=1,
                do_sample=False,
                forced_bos_token_id=jpn,
                max_new_tokens=MAX_TOKENS + 1,  # transformers counts the language token
            )[0].tolist()
        assert out[:2] == [2, jpn]
        generated = out[2:-1] if out[-1] == 2 and len(out) > 2 else out[2:]
        results.append((src.input_ids[0].tolist(), generated))
    return results


def test_raw_json_tokens_equal_transformers_greedy(checkpoint: Path, model_dir: Path):
    args = ["translate", "--model-dir", str(model_dir), "--json", "--max-tokens", str(MAX_TOKENS)]
    result = run_cli(*args, "--raw", *SENTENCES)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    translator = NllbTranslator(model_dir, options=GenerateOptions.raw())
    tokenizer = translator.bundle.tokenizer
    expected = transformers_greedy(checkpoint, SENTENCES)
    assert [r["text"] for r in records] == SENTENCES
    for record, (src_ids, tokens) in zip(records, expected, strict=True):
        assert tokenizer.encode(record["text"], "eng_Latn") == src_ids
        assert record["tokens"] == tokens
        assert record["translation"] == tokenizer.decode(tokens)
        assert set(record) == {"text", "translation", "tokens", "ms"}
        assert record["ms"] > 0
    # Random weights still say something: the comparison is not between empty outputs.
    assert sum(len(r["tokens"]) for r in records) > 2 * len(SENTENCES)
    # Without --raw the guards act on this output: loops are cut, <unk> never appears.
    result = run_cli(*args, *SENTENCES)
    guarded = [json.loads(line)["tokens"] for line in result.stdout.splitlines()]
    assert guarded != [r["tokens"] for r in records]
    assert not [ids for ids in guarded if tokenizer.unk_id in ids]


def test_stdin_lines_give_one_line_each(model_dir: Path):
    lines = ["Let me check the test output first.", "", "Done!"]
    result = run_cli("translate", "--model-dir", model_dir, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    translations = load_translator("nllb", model_dir=model_dir).translate(lines)
    assert translations[1] == ""
    assert result.stdout.splitlines() == translations


def test_translator_batches_and_skips_blank_text(model_dir: Path):
    translator = NllbTranslator(model_dir, options=GenerateOptions.raw(max_new_tokens=12))
    alone = [translator.translate_detailed([text])[0] for text in SENTENCES[:3]]
    batch = translator.translate_detailed([SENTENCES[0], " ", SENTENCES[1], "", SENTENCES[2]])
    assert [(t.text, t.translation, t.tokens) for t in batch] == [
        (alone[0].text, alone[0].translation, alone[0].tokens),
        (" ", "", []),
        (alone[1].text, alone[1].translation, alone[1].tokens),
        ("", "", []),
        (alone[2].text, alone[2].translation, alone[2].tokens),
    ]
    assert len({t.ms for t in batch}) == 1  # one call, one wall time for all of it


def test_none_passes_text_through():
    translator = load_translator("none")
    translator.warmup()
    assert translator.translate(["Hello.", "こんにちは。", ""]) == ["Hello.", "こんにちは。", ""]


def test_auto_translates_only_what_is_not_japanese(model_dir: Path):
    translator = load_translator("auto", model_dir=model_dir)
    translator.warmup()
    english = "Let me check the test output first."
    expected = load_translator("nllb", model_dir=model_dir).translate([english])[0]
    texts = ["テストがすべて通りました。", english, "README を更新しました。"]
    assert translator.translate(texts) == [texts[0], expected, texts[2]]


def test_auto_without_a_model_speaks_japanese_and_fails_per_batch(tmp_path: Path):
    translator = load_translator("auto", model_dir=tmp_path / "missing")
    translator.warmup()
    assert translator.translate(["今日はいい天気ですね。"]) == ["今日はいい天気ですね。"]
    message = (
        f"no converted model in {tmp_path / 'missing'}; run `streamtts convert` to create one; "
        "or speak without translating: --translate none (or auto for Japanese text)"
    )
    for _ in range(2):  # every batch that needs NLLB says so again (from the one attempt)
        with pytest.raises(ModelNotFoundError) as error:
            translator.translate(["Good morning.", "今日は。"])
        assert str(error.value) == message


def test_nllb_without_a_model_is_refused_at_load(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="run `streamtts convert`"):
        load_translator("nllb", model_dir=tmp_path)


def test_missing_model_is_one_line(tmp_path: Path):
    result = run_cli("translate", "--model-dir", tmp_path / "nope", "Hello.")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"streamtts: no converted model in {tmp_path / 'nope'}; "
        "run `streamtts convert` to create one\n"
    )


def test_corrupt_model_is_one_line(model_dir: Path):
    weights = next(model_dir.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    del data[-1]  # a short copy: every load checks sizes (hashes only when asked to verify)
    weights.write_bytes(bytes(data))
    result = run_cli("translate", "--model-dir", model_dir, "Hello.")
    assert result.exit_code == 1
    assert result.stderr == (
        f"streamtts: model in {model_dir} is corrupt: {weights.name} has changed; "
        f"run `streamtts convert --out {model_dir} --force` to rebuild it\n"
    )


def test_verify_finds_a_changed_byte_that_the_size_check_cannot(model_dir: Path):
    weights = next(model_dir.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size: only the hash can tell
    weights.write_bytes(bytes(data))
    args = ["translate", "--model-dir", str(model_dir), "Hello."]
    assert run_cli(*args).exit_code == 0
    result = run_cli(*args, "--verify")
    assert result.exit_code == 1
    assert result.stderr == (
        f"streamtts: model in {model_dir} is corrupt: {weights.name} has changed; "
        f"run `streamtts convert --out {model_dir} --force` to rebuild it\n"
    )


def test_unknown_language_is_one_line(tmp_path: Path):
    result = run_cli("translate", "--tgt", "jpn", "Hello.")
    assert result.exit_code == 1
    assert result.stderr == (
        "streamtts: unknown NLLB language code 'jpn' (expected e.g. eng_Latn, jpn_Jpan)\n"
    )


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown translation mode 'deepl'; use one of nllb, none"):
        load_translator("deepl")


def test_default_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("STREAMTTS_MODEL_DIR", "~/models/nllb")
    assert default_model_dir() == Path.home() / "models" / "nllb"
    monkeypatch.delenv("STREAMTTS_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_model_dir() == tmp_path / "streamtts" / "nllb-200-distilled-600M-mlx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_model_dir() == tmp_path / ".cache" / "streamtts" / "nllb-200-distilled-600M-mlx"
    monkeypatch.setattr("sys.platform", "darwin")
    expected = tmp_path / "Library" / "Caches" / "streamtts" / "nllb-200-distilled-600M-mlx"
    assert default_model_dir() == expected


def test_auto_with_a_corrupt_model_loads_it_once_for_the_run(model_dir: Path):
    weights = next(model_dir.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1])  # a short copy, which every load notices
    loads = []

    def load_nllb() -> NllbTranslator:
        loads.append(model_dir)
        return NllbTranslator(model_dir)

    translator = AutoTranslator(load_nllb)
    translator.warmup()  # the one attempt, logged at info level
    for _ in range(3):
        with pytest.raises(ModelNotFoundError, match="is corrupt"):
            translator.translate(["Good morning."])
    assert translator.translate(["今日は。"]) == ["今日は。"]
    assert loads == [model_dir]


def test_translate_reads_invalid_utf8_on_stdin_as_replacement_characters(model_dir: Path):
    result = run_cli("translate", "--model-dir", model_dir, input=b"Hello \xff\xfe.\nDone!\n")
    assert result.exit_code == 0, result.output
    translator = NllbTranslator(model_dir)
    expected = translator.translate(["Hello \ufffd\ufffd.", "Done!"])
    assert result.stdout == "".join(f"{line}\n" for line in expected)


def test_translate_flags_take_no_value(model_dir: Path):
    help_text = run_cli("translate", "--help").stdout
    flag_lines = [line for line in help_text.splitlines() if "--json" in line or "--raw" in line]
    assert len(flag_lines) == 2 and not any("<bool>" in line for line in flag_lines)
    result = run_cli("translate", "--model-dir", model_dir, "--json", "true")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == "true"  # a sentence, not the flag's value


def test_an_empty_model_dir_variable_is_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STREAMTTS_MODEL_DIR", "")
    result = run_cli("translate", "Hello.")
    assert result.exit_code == 1
    assert result.stderr == ("streamtts: STREAMTTS_MODEL_DIR is empty; name a path or unset it\n")


def test_is_japanese() -> None:
    assert is_japanese("了解しました。")
    assert is_japanese("README を更新しました")
    assert is_japanese("`streamtts` の設定ファイルを更新しました。")
    assert not is_japanese("The button says キャンセル today")
    assert not is_japanese("Hello world.")
    assert not is_japanese("123 !?")
    assert is_japanese("load_translator が ModelNotFoundError を投げています。")
    assert not is_japanese("Run parse_args then ModelNotFoundError is gone.")


@pytest.mark.parametrize(
    ("text", "masked", "names"),
    [
        (
            "I fixed parse_args in CHANGELOG.md.",
            "I fixed ZQ0 in ZQ1.",
            ["parse_args", "CHANGELOG.md"],
        ),
        (
            "FastAPI and useState are unrelated.",
            "ZQ0 and ZQ1 are unrelated.",
            ["FastAPI", "useState"],
        ),
        ("Bump to v0.4.2 and Python 3.11 now.", "Bump to ZQ0 and Python 3.11 now.", ["v0.4.2"]),
        (
            "Use --fix on src/streamtts/cli.py.",
            "Use ZQ0 on ZQ1.",
            ["--fix", "src/streamtts/cli.py"],
        ),
        ("Call os.path.join() once.", "Call ZQ0 once.", ["os.path.join()"]),
        ("The JSON from k8s is utf8.", "The ZQ0 from ZQ1 is ZQ2.", ["JSON", "k8s", "utf8"]),
        ("e.g. it took 1.5 seconds.", "e.g. it took 1.5 seconds.", []),
        ("Let me check the test output first.", "Let me check the test output first.", []),
        ("Keep ZQ0 as it is in parse_args.", "Keep ZQ0 as it is in parse_args.", []),
    ],
)
def test_protect_swaps_names_for_placeholders(text: str, masked: str, names: list[str]):
    assert protect(text) == (masked, names)


@pytest.mark.parametrize(
    ("output", "restored"),
    [
        ("ZQ1 の ZQ0 を直しました。", "CHANGELOG.md の parse_args を直しました。"),
        ("Ｚ Ｑ１ の ZQ 0 を直しました。", "CHANGELOG.md の parse_args を直しました。"),
        ("ZQ0 を直しました。", None),  # a name dropped
        ("ZQ0 と ZQ0 と ZQ1。", None),  # a name repeated
        ("ZQ0 と ZQ1 と ZQ2。", None),  # a placeholder invented
        ("直しました。", None),
    ],
)
def test_restore_gives_each_name_back_exactly_once_or_refuses(output: str, restored: str | None):
    assert restore(output, ["parse_args", "CHANGELOG.md"]) == restored


def test_a_lost_placeholder_falls_back_to_the_unprotected_translation_and_is_counted():
    calls: list[list[str]] = []
    outputs = {
        "I fixed ZQ0.": "ZQ0 を直しました。",  # copied: restored
        "Run ZQ0 and ZQ1.": "ZQ0 を実行。",  # one dropped: translated again as written
        "Run parse_args and useState.": "パースアーグスとユーズステートを実行。",
        "Done!": "完了！",
    }

    def model(texts: list[str]) -> list[str]:
        calls.append(texts)
        return [outputs[text] for text in texts]

    stats = NameStats()
    texts = ["I fixed parse_args.", "Run parse_args and useState.", "Done!"]
    assert translate_keeping_names(texts, model, stats) == [
        "parse_args を直しました。",
        "パースアーグスとユーズステートを実行。",
        "完了！",
    ]
    assert calls == [
        ["I fixed ZQ0.", "Run ZQ0 and ZQ1.", "Done!"],
        ["Run parse_args and useState."],
    ]
    assert stats == NameStats(protected=2, restored=1, fell_back=1)


def test_nllb_with_random_weights_never_loses_a_name_it_cannot_copy(model_dir: Path):
    # Random weights copy no placeholder: every sentence with names falls back to what the
    # model says for it as written, and is counted; a sentence without names is untouched.
    translator = NllbTranslator(model_dir, options=GenerateOptions(max_new_tokens=12))
    texts = ["I fixed parse_args in CHANGELOG.md.", SENTENCES[0], "Use FastAPI now."]
    plain = [t.translation for t in translator.translate_detailed(texts)]
    masked = [t.translation for t in translator.translate_detailed([protect(t)[0] for t in texts])]
    assert translator.translate(texts) == plain
    assert masked[0] != plain[0]  # the placeholders did reach the model
    assert translator.names == NameStats(protected=2, restored=0, fell_back=2)
