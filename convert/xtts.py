"""Install XTTS v2 as streamtts's model directory: fetched once from the hub, or from disk.

Only what inference reads is fetched: ``config.json``, ``model.pth``, ``vocab.json`` and
``speakers_xtts.pth`` (about 1.9 GB); the repository's ``dvae.pth`` and ``mel_stats.pth``
serve training only. The download goes through the shared Hugging Face cache (``hub.py``,
so ``HF_HOME``, offline mode and tokens behave as elsewhere). The files are then copied,
not linked: coqui rewrites a legacy ``model.pth`` in place on its first load, which through
a link would alter the cache's blob. Everything is staged in a sibling directory that
replaces the old one atomically (``staging.py``), so an interrupted or failed install
never leaves a directory that loads half, nor loses the previous one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from streamtts.convert.hub import snapshot
from streamtts.convert.staging import check_directory_writable, replace_directory
from streamtts.errors import StreamttsError
from streamtts.tts.xtts import REQUIRED_FILES, SPEAKERS_FILE

DEFAULT_REPO = "coqui/XTTS-v2"
FILES = (*REQUIRED_FILES, SPEAKERS_FILE)
FROM_LOCAL = "install a copy already on disk with --from DIR"
LICENSE_NOTE = "XTTS v2's weights are under the Coqui Public Model License (non-commercial use)"


class InstallError(StreamttsError):
    """The model directory could not be written; the message says what to do."""


def install_xtts(
    out: Path,
    *,
    source: Path | None = None,
    repo_id: str = DEFAULT_REPO,
    revision: str | None = None,
    force: bool = False,
) -> int:
    """Write an XTTS v2 model directory to ``out``; return the bytes written.

    ``source`` is a local directory in the coqui/XTTS-v2 layout; None fetches ``repo_id``
    (at ``revision``) from the hub. An existing ``out`` is replaced only with ``force``.
    Raises ``InstallError``, or ``HubError`` when the hub cannot deliver.
    """
    if out.exists() and not force:  # say so before a long download, not after
        raise InstallError(f"{out} already exists; pass --force to replace it")
    check_directory_writable(out)
    if source is None:
        source = snapshot(repo_id, revision, list(FILES), instead=FROM_LOCAL)
    missing = [name for name in REQUIRED_FILES if not (source / name).is_file()]
    if missing:
        raise InstallError(
            f"{source} is not an XTTS v2 model directory (missing {', '.join(missing)})"
        )
    written = 0

    def write(staging: Path) -> None:
        nonlocal written
        for name in FILES:
            if (source / name).is_file():
                written += shutil.copyfile(source / name, staging / name).stat().st_size

    replace_directory(out, write)
    return written
