"""What a wheel of streamtts holds: every package of the source tree, and its data."""

from __future__ import annotations

import tomllib

from helpers import REPO


def setuptools_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_the_source_tree_is_in_the_wheel() -> None:
    # The editable install finds a package missing from this list; a wheel would not.
    in_tree = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "streamtts").rglob("__init__.py")
    }
    in_tree |= {"streamtts.convert"}  # convert/ installs as streamtts.convert
    assert set(setuptools_config()["packages"]) == in_tree


def test_the_data_files_the_code_reads_are_in_the_wheel() -> None:
    data = setuptools_config()["package-data"]
    assert data["streamtts.text"] == ["glossary.tsv"]
    assert (REPO / "streamtts" / "text" / "glossary.tsv").is_file()
