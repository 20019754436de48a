"""``--translate none``: the text is spoken as it is."""

from __future__ import annotations

from pathlib import Path


class PassThrough:
    """``--translate none``: every text is spoken as it is."""

    def warmup(self) -> None:
        """Nothing to warm up."""

    def translate(self, texts: list[str]) -> list[str]:
        """The texts, unchanged."""
        return list(texts)


def load(*, model_dir: Path | None, src_lang: str, tgt_lang: str) -> PassThrough:
    """The text as it is, whatever the model and languages."""
    return PassThrough()
