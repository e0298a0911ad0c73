"""The CHANGELOG the upgrade procedure sends operators to exists, has an Unreleased section
with upgrade notes, and the upgrade docs link it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_changelog_has_an_unreleased_section_with_upgrade_notes() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    sections = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert sections and sections[0] == "Unreleased", sections
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    for heading in ("### Added", "### Changed", "### Upgrade notes"):
        assert heading in unreleased, heading


def test_the_upgrade_docs_send_operators_to_the_changelog() -> None:
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    upgrading = deployment.split("## Upgrading", 1)[1].split("\n## ", 1)[0]
    assert "[CHANGELOG.md](../CHANGELOG.md)" in upgrading
    assert "[CHANGELOG.md](CHANGELOG.md)" in (ROOT / "README.md").read_text()
