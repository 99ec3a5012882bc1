"""The corpus is real, permissively licensed, and says where each file came from."""

from __future__ import annotations

import re

from tests.dockerfile.corpus import CORPUS, SOURCES

PERMISSIVE = {"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC"}


def test_at_least_40_files_each_with_repository_commit_and_license() -> None:
    assert len(SOURCES) >= 40
    on_disk = {p.name for p in CORPUS.iterdir() if p.is_file()} - {"SOURCES.json", "README.md"}
    assert on_disk == {s["file"] for s in SOURCES}
    for source in SOURCES:
        assert source["license"] in PERMISSIVE, source
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), source
        assert source["repository"].startswith("https://github.com/"), source
        name = source["repository"].rsplit("/", 1)[1]
        assert (CORPUS / "LICENSES" / f"{name}.LICENSE").is_file(), source
