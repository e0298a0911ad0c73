"""The role directory: who holds which decision role, per team (issue 24, out of office).

Tokens say which roles a caller holds when they call; nothing says who else holds a role.
The directory is that list, written down by the deployment as YAML:

    payments:                 # team
      TECH_LEAD: [alice, bob] # role: human ids (token subjects)
      CFO: [carl]

It is only ever used to notice that nobody present can decide a request (each holder
away, with no deputy who may stand in), never to let anyone decide: authority still comes
from the caller's token and the workflow's checks. Read once when the API starts; a file
that cannot be read or is malformed stops it (`invalid_role_directory`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, RootModel, ValidationError, field_validator

from gantral.errors import InvalidInput, Reason

__all__ = ["RoleDirectory", "load_role_directory"]

_Name = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]


class RoleDirectory(RootModel[dict[_Name, dict[_Name, list[_Name]]]]):
    """team -> role -> the human ids holding it in that team."""

    @field_validator("root")
    @classmethod
    def _no_repeats(cls, teams: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for team, roles in teams.items():
            for role, humans in roles.items():
                if len(set(humans)) != len(humans):
                    raise ValueError(f"{team}.{role} lists a human more than once")
        return teams

    def teams(self) -> list[str]:
        """The teams the directory lists (only their requests can be found undecidable)."""
        return sorted(self.root)

    def holders(self, team: str, role: str) -> list[str] | None:
        """Who holds `role` in `team`; None when the directory does not list that role
        for that team (then nothing is known, and nothing is concluded)."""
        return self.root.get(team, {}).get(role)


def load_role_directory(path: Path) -> RoleDirectory:
    """The directory in `path`; `invalid_role_directory` naming the file and the problem."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(
            f"role directory {path}: cannot read it: {exc}", reason=Reason.INVALID_ROLE_DIRECTORY
        ) from exc
    try:
        return RoleDirectory.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidInput(
            f"role directory {path} must map team -> role -> list of human ids: {problems}",
            reason=Reason.INVALID_ROLE_DIRECTORY,
        ) from None
