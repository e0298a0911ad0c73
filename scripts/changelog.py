"""A CHANGELOG section from the commits since the last tag (every commit if there is none).

    python scripts/changelog.py VERSION [--out FILE] [--update CHANGELOG.md]

Merge commits are left out (their branches' commits are listed). `--update` puts the
section at the top of the changelog, replacing an earlier section for the same version,
so running it again before the release is tagged only refreshes it.
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
from pathlib import Path

TITLE = "# Changelog\n"
INTRO = (
    "Each release's commits, newest first; written by `make release-artifacts`\n"
    "(scripts/changelog.py) from the commits since the previous tag.\n"
)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def last_tag(repo: Path) -> str | None:
    done = subprocess.run(
        ["git", "describe", "--tags", "--abbrev=0"], cwd=repo, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


def commits(repo: Path, since: str | None) -> list[tuple[str, str]]:
    """(short hash, subject) of each non-merge commit after `since`, newest first."""
    span = f"{since}..HEAD" if since else "HEAD"
    out = _git("log", "--no-merges", "--format=%h%x00%s", span, cwd=repo)
    return [tuple(line.split("\0", 1)) for line in out.splitlines() if line]  # type: ignore[misc]


def section(
    version: str, date: datetime.date, since: str | None, items: list[tuple[str, str]]
) -> str:
    origin = f"Changes since {since}" if since else "Every change since the first commit"
    lines = [f"## {version} ({date.isoformat()})", "", f"{origin}:", ""]
    lines += [f"- {subject} ({sha})" for sha, subject in items] or ["- No changes."]
    return "\n".join(lines) + "\n"


def update(changelog: str, version: str, new: str) -> str:
    """`changelog` with `new` first, any earlier section for `version` dropped."""
    _, found, rest = changelog.partition("\n## ")
    sections = re.split(r"\n(?=## )", "## " + rest) if found else []
    kept = [s.rstrip("\n") + "\n" for s in sections if not s.startswith(f"## {version} ")]
    return "\n".join([TITLE, INTRO, new, *kept])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("--out", type=Path, help="write the section here")
    parser.add_argument("--update", type=Path, help="put the section at the top of this file")
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    args = parser.parse_args()
    since = last_tag(args.repo)
    text = section(args.version, datetime.date.today(), since, commits(args.repo, since))
    if args.out:
        args.out.write_text(text)
    if args.update:
        old = args.update.read_text() if args.update.exists() else ""
        args.update.write_text(update(old, args.version, text))
    if not (args.out or args.update):
        print(text, end="")


if __name__ == "__main__":
    main()
