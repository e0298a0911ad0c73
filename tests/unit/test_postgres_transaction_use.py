"""Every PostgreSQL transaction in Gantral goes through `gantral.postgres_transaction`:
psycopg's own block can end without COMMIT and without an error (see that module)."""

from __future__ import annotations

import re
from pathlib import Path

import gantral

ROOT = Path(gantral.__file__).parent
HELPER = ROOT / "postgres_transaction.py"


def test_no_module_opens_a_transaction_block_of_its_own() -> None:
    found = [
        f"{path.relative_to(ROOT.parent)}:{n}"
        for path in sorted(ROOT.rglob("*.py"))
        if path != HELPER
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.transaction\(", line)
    ]
    assert found == [], f"use gantral.postgres_transaction.transaction: {found}"
