"""Model-directory edges: early option checks, atomic replacement, stale staging, bad files.

Each case ends in exactly one line that names the file or path and says what to do.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from streamtts.convert import hub
from streamtts.convert import nllb as convert_nllb
from streamtts.convert.nllb import convert_checkpoint
from streamtts.convert.staging import clean_stale, replace_directory
from streamtts.convert.xtts import install_xtts
from streamtts.errors import StreamttsError
from streamtts.nllb.load import CONFIG, MANIFEST, SPM_MODEL, ModelDirError, load, write_manifest


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, make_checkpoint) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-nllb")


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def fetch(*args: object, **kwargs: object) -> Path:
        raise AssertionError("convert downloaded before checking its options")

    monkeypatch.setattr(hub, "fetch", fetch)


def cli(*args: str | Path) -> tuple[int, str]:
    result = run_cli(*args)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dtype", "float8"], "--dtype must be one of float32, float16, bfloat16, not 'float8'"),
        (["--quantize", "3"], "--quantize must be 4 or 8, not 3"),
        (["--quantize", "8", "--group-size", "48"], "--group-size must be 32, 64 or 128, not 48"),
    ],
)
def test_convert_checks_options_before_any_download(
    no_download: None, tmp_path: Path, args: list[str], message: str
) -> None:
    code, stderr = cli("convert", "--out", tmp_path / "model", *args)
    assert (code, stderr) == (1, f"streamtts: {message}\n")


def test_convert_checks_the_output_path_before_any_download(
    no_download: None, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, stderr = cli("convert", "--out", blocker / "model")
    assert (code, stderr) == (
        1,
        f"streamtts: cannot write {blocker / 'model'}: {blocker} is not a directory\n",
    )


def test_convert_with_an_empty_model_dir_variable_is_one_line(
    no_download: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty path would have meant here
    monkeypatch.setenv("STREAMTTS_MODEL_DIR", "")
    code, stderr = cli("convert")
    assert (code, stderr) == (
        1,
        "streamtts: STREAMTTS_MODEL_DIR is empty; name a path or unset it\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_convert_on_a_full_disk_is_one_line_and_leaves_nothing(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(directory: Path, model: object) -> None:
        (directory / "model.safetensors").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convert_nllb, "save_weights", full)
    out = tmp_path / "model"
    code, stderr = cli("convert", "--from", checkpoint, "--out", out)
    assert (code, stderr) == (1, f"streamtts: cannot write {out}: No space left on device\n")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_swap_keeps_the_old_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "old").write_text("old")
    rename = Path.rename

    def failing(self: Path, target: Path) -> Path:
        if self.name.startswith(".model.staging-"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(StreamttsError) as error:
        replace_directory(out, lambda staging: (staging / "new").write_text("new"))
    assert str(error.value) == f"cannot write {out}: Invalid cross-device link"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in out.iterdir()] == ["old"]


def test_fetch_xtts_failure_keeps_the_installed_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("config.json", "model.pth", "vocab.json"):
        (source / name).write_text(name)
    out = tmp_path / "xtts"
    install_xtts(out, source=source)
    rename = Path.rename

    def failing(self: Path, target: Path) -> Path:
        if self.name.startswith(".xtts.staging-"):
            raise OSError(errno.EROFS, "Read-only file system")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    code, stderr = cli("fetch-xtts", "--from", source, "--out", out, "--force")
    assert (code, stderr) == (1, f"streamtts: cannot write {out}: Read-only file system\n")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.pth", "vocab.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_staging_left_by_a_killed_run_is_cleaned_up(tmp_path: Path) -> None:
    out = tmp_path / "model"
    dead = _dead_pid()
    stale = tmp_path / f".model.staging-{dead}-abc"
    live = tmp_path / f".model.staging-{os.getpid()}-abc"
    other = tmp_path / f".other.staging-{dead}-abc"
    for path in (stale, live, other):
        path.mkdir()
    # Killed between its two renames: the previous model sits in an .old- directory.
    retired = tmp_path / f".model.old-{dead}-xyz"
    (retired / "model").mkdir(parents=True)
    (retired / "model" / "weights").write_text("previous")
    assert clean_stale(out) == [retired, stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model", live.name, other.name])
    assert (out / "weights").read_text() == "previous"


def _converted(checkpoint: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    convert_checkpoint(checkpoint, out)
    return out


def _redo(out: Path) -> str:
    return f"run `streamtts convert --out {out} --force` to rebuild it"


@pytest.mark.parametrize(
    "config",
    [[1, 2, 3], {}, "d_model", None],
    ids=["list", "empty", "string", "null"],
)
def test_a_config_of_the_wrong_shape_is_one_line(
    checkpoint: Path, tmp_path: Path, config: object
) -> None:
    out = _converted(checkpoint, tmp_path)
    (out / CONFIG).write_text(json.dumps(config))
    write_manifest(out)  # re-hashed: only the config's content is wrong
    with pytest.raises(ModelDirError) as error:
        load(out)
    assert str(error.value) == f"model in {out} has an unreadable config.json; {_redo(out)}"


def test_a_config_with_a_string_width_is_one_line_in_translate(
    checkpoint: Path, tmp_path: Path
) -> None:
    out = _converted(checkpoint, tmp_path)
    config = json.loads((out / CONFIG).read_text())
    (out / CONFIG).write_text(json.dumps({**config, "d_model": "big"}))
    write_manifest(out)
    code, stderr = cli("translate", "--model-dir", out, "Hello.")
    assert (code, stderr) == (
        1,
        f"streamtts: model in {out} has an unreadable config.json; {_redo(out)}\n",
    )


@pytest.mark.parametrize(
    "manifest",
    [[1, 2, 3], {}, {"format": 1, "files": {CONFIG: {"sha256": "0"}}}, {"files": "x"}],
    ids=["list", "empty", "no-sizes", "files-string"],
)
def test_a_manifest_of_the_wrong_shape_is_one_line(
    checkpoint: Path, tmp_path: Path, manifest: object
) -> None:
    out = _converted(checkpoint, tmp_path)
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelDirError) as error:
        load(out)
    assert str(error.value) == f"model in {out} has no readable manifest.json; {_redo(out)}"


def test_a_junk_sentencepiece_model_is_one_line(checkpoint: Path, tmp_path: Path) -> None:
    out = _converted(checkpoint, tmp_path)
    (out / SPM_MODEL).write_bytes(b"not a sentencepiece model")
    write_manifest(out)
    with pytest.raises(ModelDirError) as error:
        load(out)
    assert str(error.value) == (
        f"model in {out} has an unreadable sentencepiece.bpe.model; {_redo(out)}"
    )


def test_convert_from_a_junk_sentencepiece_model_is_one_line(
    checkpoint: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for path in checkpoint.iterdir():
        (source / path.name).write_bytes(path.read_bytes())
    (source / SPM_MODEL).write_bytes(b"junk")
    code, stderr = cli("convert", "--from", source, "--out", tmp_path / "model")
    assert (code, stderr) == (
        1,
        f"streamtts: {source / SPM_MODEL} is not a SentencePiece model\n",
    )


def test_convert_from_a_config_list_is_one_line(checkpoint: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for path in checkpoint.iterdir():
        (source / path.name).write_bytes(path.read_bytes())
    (source / CONFIG).write_text("[1, 2, 3]")
    code, stderr = cli("convert", "--from", source, "--out", tmp_path / "model")
    assert (code, stderr) == (
        1,
        f"streamtts: {source / CONFIG} is not a model config (a JSON object)\n",
    )
