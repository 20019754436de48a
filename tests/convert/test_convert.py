"""`streamtts convert` and model-directory loading on real checkpoints saved by transformers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from helpers import run_cli, run_process

from streamtts.convert import nllb as convert_nllb
from streamtts.convert.nllb import ConvertError, convert_checkpoint
from streamtts.convert.vocab import japanese_token_ids
from streamtts.nllb.load import MANIFEST, ModelDirError, load
from streamtts.nllb.tokenizer import NllbTokenizer
from streamtts.paths import sha256_file

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

# sp pieces + fairseq offset + 202 language codes + <mask>, for the session's 700-piece model.
VOCAB = 904


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, make_checkpoint) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-nllb")


def convert(*args: str | Path) -> tuple[int, str, str]:
    result = run_cli("convert", *args)
    return result.exit_code, result.stdout, result.stderr


def test_convert_writes_a_directory_that_loads(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    code, stdout, stderr = convert("--from", checkpoint, "--out", out)
    assert (code, stderr) == (0, "")
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    assert stdout == f"wrote {out} ({size:.1f} MB, float32, full output head ({VOCAB} tokens))\n"
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "manifest.json",
        "model.safetensors",
        "sentencepiece.bpe.model",
    ]
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    for name, entry in manifest["files"].items():
        assert entry == {"size": (out / name).stat().st_size, "sha256": sha256_file(out / name)}
    config = json.loads((out / "config.json").read_text())
    assert (config["quantization"], config["vocab_pruning"], config["dtype"]) == (
        None,
        None,
        "float32",
    )
    bundle = load(out)
    assert bundle.vocab_map is None
    assert bundle.tokenizer.lang_id("jpn_Jpan") == 779
    assert bundle.model.shared.weight.shape == (VOCAB, 64)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_pytorch_bin_converts_to_the_same_weights(
    checkpoint: Path, make_checkpoint, tmp_path: Path
) -> None:
    # Same seed, saved the way facebook/nllb-200-distilled-600M ships: a torch pickle.
    bin_checkpoint = make_checkpoint(tmp_path / "bin", safetensors=False)
    assert (bin_checkpoint / "pytorch_model.bin").is_file()
    assert not (bin_checkpoint / "model.safetensors").exists()
    convert_checkpoint(bin_checkpoint, tmp_path / "from-bin")
    convert_checkpoint(checkpoint, tmp_path / "from-safetensors")
    a = mx.load(str(tmp_path / "from-bin" / "model.safetensors"))
    b = mx.load(str(tmp_path / "from-safetensors" / "model.safetensors"))
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(np.array(a[name]), np.array(b[name])), name


def test_refuses_to_overwrite_without_force(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, stdout, stderr = convert("--from", checkpoint, "--out", out)
    assert (code, stdout) == (1, "")
    assert stderr == f"streamtts: {out} already exists; pass --force to replace it\n"
    assert (out / "keep.txt").read_text() == "mine"

    code, _, stderr = convert("--from", checkpoint, "--out", out, "--force")
    assert (code, stderr) == (0, "")
    assert not (out / "keep.txt").exists()
    load(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_out_defaults_to_the_model_dir_variable(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMTTS_MODEL_DIR", str(tmp_path / "env-model"))
    code, stdout, _ = convert("--from", checkpoint)
    assert code == 0
    assert stdout.startswith(f"wrote {tmp_path / 'env-model'} (")
    load(tmp_path / "env-model")


def test_interrupted_convert_leaves_no_directory(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(directory: Path) -> None:
        raise KeyboardInterrupt

    # Interrupt at the last step, once every weight file is written.
    monkeypatch.setattr(convert_nllb, "write_manifest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_checkpoint(checkpoint, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dtype", "float8"], "--dtype must be one of float32, float16, bfloat16, not 'float8'"),
        (["--quantize", "3"], "--quantize must be 4 or 8, not 3"),
        (["--quantize", "8", "--group-size", "48"], "--group-size must be 32, 64 or 128, not 48"),
        (
            ["--prune-vocab", "kor_Hang"],
            "no script table for 'kor_Hang'; vocabulary pruning knows jpn_Jpan",
        ),
    ],
)
def test_bad_options_are_one_line(
    checkpoint: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, stdout, stderr = convert("--from", checkpoint, "--out", tmp_path / "m", *args)
    assert (code, stdout, stderr) == (1, "", f"streamtts: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_not_an_nllb_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    source = tmp_path / "bert"
    shutil.copytree(checkpoint, source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(ConvertError, match=r"holds a 'bert' model, not NLLB-200 \(m2m_100\)$"):
        convert_checkpoint(source, tmp_path / "out")
    (source / "model.safetensors").unlink()
    (source / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConvertError, match=r"^no model.safetensors or pytorch_model.bin in "):
        convert_checkpoint(source, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bert"]


def test_pruned_head_keeps_japanese_ids_padded_to_64(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "pruned"
    code, stdout, _ = convert("--from", checkpoint, "--out", out, "--prune-vocab", "jpn_Jpan")
    kept = japanese_token_ids(NllbTokenizer.from_file(checkpoint / "sentencepiece.bpe.model"))
    assert code == 0
    assert stdout.endswith(f", float32, output head {len(kept)} of {VOCAB} tokens)\n")
    bundle = load(out)
    rows = bundle.vocab_map.tolist()
    assert len(rows) % 64 == 0 and len(rows) - len(kept) < 64
    assert rows == kept + [2] * (len(rows) - len(kept))
    assert bundle.config["vocab_pruning"] == {
        "language": "jpn_Jpan",
        "kept": len(kept),
        "size": len(rows),
    }
    # The input embedding stays whole; the head is the shared matrix's kept rows.
    shared = np.array(bundle.model.shared.weight)
    assert shared.shape == (VOCAB, 64)
    assert np.array_equal(np.array(bundle.model.lm_head.weight), shared[rows])


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--dtype", "bfloat16"], ("bfloat16", None)),
        (["--quantize", "8"], ("float32", {"group_size": 64, "bits": 8, "mode": "affine"})),
        (
            ["--dtype", "float16", "--quantize", "4", "--group-size", "32"],
            ("float16", {"group_size": 32, "bits": 4, "mode": "affine"}),
        ),
    ],
)
def test_dtype_and_quantization_are_stored(
    checkpoint: Path, tmp_path: Path, args: list[str], expect: tuple[str, dict | None]
) -> None:
    out = tmp_path / "model"
    code, stdout, _ = convert("--from", checkpoint, "--out", out, *args)
    assert code == 0
    dtype, quantization = expect
    bits = f", {quantization['bits']}-bit" if quantization else ""
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    assert (
        stdout == f"wrote {out} ({size:.1f} MB, {dtype}{bits}, full output head ({VOCAB} tokens))\n"
    )
    bundle = load(out)
    assert (bundle.config["dtype"], bundle.config["quantization"]) == expect
    assert bundle.model.encoder.layers[0].fc1.weight.dtype == (
        mx.uint32 if quantization else mx.bfloat16
    )
    layer_norm = bundle.model.decoder.layer_norm.weight.dtype
    assert layer_norm == getattr(mx, dtype)


def test_load_rejects_missing_and_corrupt_directories(checkpoint: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    with pytest.raises(ModelDirError) as error:
        load(missing)
    assert str(error.value) == (
        f"no converted model in {missing}; run `streamtts convert` to create one"
    )
    out = tmp_path / "model"
    convert_checkpoint(checkpoint, out)
    redo = f"run `streamtts convert --out {out} --force` to rebuild it"

    weights = out / "model.safetensors"
    original = weights.read_bytes()
    damaged = bytearray(original)
    damaged[-5] ^= 0xFF  # same size, different content: only the sha256 can tell
    weights.write_bytes(bytes(damaged))
    load(out)  # by default only sizes are checked: no 2.4 GB hash on every start
    with pytest.raises(ModelDirError) as error:
        load(out, verify=True)
    assert str(error.value) == f"model in {out} is corrupt: model.safetensors has changed; {redo}"
    weights.write_bytes(original)

    (out / "sentencepiece.bpe.model").unlink()
    with pytest.raises(ModelDirError) as error:
        load(out)
    assert str(error.value) == (
        f"model in {out} is incomplete: sentencepiece.bpe.model is missing; {redo}"
    )
    (out / MANIFEST).unlink()
    with pytest.raises(ModelDirError) as error:
        load(out)
    assert str(error.value) == f"model in {out} has no readable manifest.json; {redo}"


def _hub_cache(cache: Path, repo: str, checkpoint: Path) -> None:
    """Lay ``checkpoint`` out as huggingface_hub caches a download: blobs, snapshot links, ref."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "blobs").mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(revision)
    snapshot = root / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for path in checkpoint.iterdir():
        blob = root / "blobs" / sha256_file(path)
        shutil.copyfile(path, blob)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))


def test_hub_path_reads_the_cache_offline(
    make_checkpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real repository ships pytorch_model.bin, so the cached snapshot does too.
    checkpoint = make_checkpoint(tmp_path / "bin", safetensors=False)
    _hub_cache(tmp_path / "hub", "someone/tiny-nllb", checkpoint)
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "model"

    # A fresh process: huggingface_hub reads HF_HUB_OFFLINE and the cache path at import.
    done = run_process("convert", "someone/tiny-nllb", "--out", out, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out} (")
    assert done.stdout.endswith(f", float32, full output head ({VOCAB} tokens))\n")
    convert_checkpoint(checkpoint, tmp_path / "direct")
    assert sha256_file(out / "model.safetensors") == sha256_file(
        tmp_path / "direct" / "model.safetensors"
    )

    missing = run_process(
        "convert", "someone/other-nllb", "--out", tmp_path / "other", env=env, timeout=120
    )
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        "streamtts: someone/other-nllb is not in the Hugging Face cache and HF_HUB_OFFLINE is "
        "set; unset it to download, or convert a checkpoint already on disk with --from DIR\n"
    )


def test_hub_path_without_network_points_to_from(tmp_path: Path) -> None:
    # Port 9 on localhost refuses at once: the hub is unreachable, nothing is downloaded.
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    env["HF_HUB_OFFLINE"] = "0"
    done = run_process(
        "convert", "facebook/nllb-200-distilled-600M", "--out", tmp_path / "m", env=env, timeout=120
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "streamtts: facebook/nllb-200-distilled-600M cannot be downloaded: no connection to the "
        "Hugging Face hub; convert a checkpoint already on disk with --from DIR\n"
    )
    assert not (tmp_path / "m").exists()


def test_hub_path_without_huggingface_hub_says_what_to_install(tmp_path: Path) -> None:
    # The runtime install has no huggingface-hub: stand in for its absence on the path.
    blocked = tmp_path / "blocked" / "huggingface_hub"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {"PYTHONPATH": str(blocked.parent)}
    done = run_process(
        "convert", "facebook/nllb-200-distilled-600M", "--out", tmp_path / "m", env=env, timeout=120
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "streamtts: fetching from the hub needs huggingface-hub: pip install "
        "'streamtts[convert]' (make setup-convert), or convert a checkpoint already on disk "
        "with --from DIR\n"
    )
