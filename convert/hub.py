"""Fetch an NLLB checkpoint from the Hugging Face hub: only the files conversion reads.

``huggingface_hub.snapshot_download`` does the work, so the shared HF cache, ``HF_HOME``,
``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, tokens and its progress bars all behave as users of
other Hugging Face tools expect. Safetensors weights are asked for first; only a repository
without them (facebook/nllb-200-distilled-600M is one) is asked for ``pytorch_model.bin``,
so a repository that carries both never costs two downloads. Every way the hub can be out
of reach ends in one message pointing to ``--from DIR``.
"""

from __future__ import annotations

from pathlib import Path

from streamtts.convert.checkpoint import PYTORCH, SAFETENSORS, CheckpointError, weight_files
from streamtts.errors import StreamttsError

DEFAULT_MODEL_ID = "facebook/nllb-200-distilled-600M"
METADATA = ["config.json", "sentencepiece.bpe.model"]


FROM_DIR = "convert a checkpoint already on disk with --from DIR"


class HubError(StreamttsError):
    """The checkpoint could not be fetched; the message says what to do instead."""


def snapshot(
    model_id: str, revision: str | None, patterns: list[str], *, instead: str = FROM_DIR
) -> Path:
    """Download (or find in the Hugging Face cache) the files of ``model_id`` matching ``patterns``.

    Every failure is a :class:`HubError` whose message ends with ``instead``: what to do offline.
    """
    try:
        from huggingface_hub import constants, snapshot_download
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise HubError(
            f"fetching from the hub needs huggingface-hub: pip install 'streamtts[convert]' "
            f"(make setup-convert), or {instead}"
        ) from None

    try:
        return Path(snapshot_download(model_id, revision=revision, allow_patterns=patterns))
    except GatedRepoError:
        raise HubError(f"{model_id} is gated: log in with `hf auth login`, or {instead}") from None
    except RepositoryNotFoundError:
        raise HubError(f"no model {model_id!r} on the Hugging Face hub; {instead}") from None
    except RevisionNotFoundError:
        raise HubError(f"{model_id} has no revision {revision!r}; {instead}") from None
    except LocalEntryNotFoundError:
        # Raised both offline and when the hub cannot be reached, if the cache lacks the files.
        if constants.HF_HUB_OFFLINE:
            raise HubError(
                f"{model_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set; "
                f"unset it to download, or {instead}"
            ) from None
        raise HubError(
            f"{model_id} cannot be downloaded: no connection to the Hugging Face hub; {instead}"
        ) from None
    except (HfHubHTTPError, OSError) as error:
        raise HubError(f"downloading {model_id} failed ({error}); {instead}") from None


def fetch(model_id: str = DEFAULT_MODEL_ID, *, revision: str | None = None) -> Path:
    """Local directory holding ``model_id``'s config, SentencePiece model and weights."""
    safetensors = [SAFETENSORS, f"{SAFETENSORS}.index.json", "model-*.safetensors"]
    snapshot_dir = snapshot(model_id, revision, METADATA + safetensors)
    try:
        weight_files(snapshot_dir)
    except CheckpointError:
        pytorch = [PYTORCH, f"{PYTORCH}.index.json", "pytorch_model-*.bin"]
        snapshot_dir = snapshot(model_id, revision, METADATA + pytorch)
    for name in METADATA:
        if not (snapshot_dir / name).is_file():
            raise HubError(f"{model_id} has no {name}; is it an NLLB-200 checkpoint?")
    return snapshot_dir
