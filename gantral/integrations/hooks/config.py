"""The hook's mapping file: which tool calls of a coding agent are which governed steps.

    gantral:
      url: https://gantral.example.com
      token: env:GANTRAL_AGENT_TOKEN     # a secret reference (env:, file:, vault:)
    workflow: coding-agent               # the workflow template whose steps' policies decide
    team: platform                       # the owning team of each session's instance
    wait: 300                            # seconds to wait for a human, then deny
    unmapped: ask                        # allow | ask | deny | passthrough
    on_unreachable: deny                 # deny | ask, when Gantral cannot be reached
    tools:
      - match: Bash                      # a regular expression, matched on the whole name
        input_match: {command: '^git push'}
        step: push
        arguments: [command]
      - match: Bash
        step: shell
        arguments: [command]
      - match: Edit|Write|MultiEdit
        step: edit
        arguments: [file_path]
      - match: mcp__github__.*
        step: github
        on_unreachable: ask

The first rule that matches a call decides its step. `arguments` names the fields of the
tool's input that are the step's arguments (what the human sees and the grant is bound
to); without it, the whole input is. Secrets are references, never in the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gantral.errors import GantralError

__all__ = ["CONFIG_ENV", "Connection", "HookConfig", "ToolRule", "load_config"]

CONFIG_ENV = "GANTRAL_HOOK_CONFIG"
"""The variable naming the mapping file when `--config` is not given."""

Unreachable = Literal["deny", "ask"]


class _Strict(BaseModel):
    # A misspelt key must not silently drop a rule (a tool would fall to the default).
    model_config = ConfigDict(extra="forbid", frozen=True)


class Connection(_Strict):
    """Where the Gantral API is, and the agent's credentials, by reference: `token` is
    `env:NAME`, `file:/path` or `vault:mount/path#key`; or `client_id` with
    `client_secret` (a reference too) and `token_url` for the client-credentials grant."""

    url: str
    token: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_route(self) -> Connection:
        credentials = (self.token_url, self.client_id, self.client_secret)
        if (self.token is None) == (not any(credentials)):
            raise ValueError("gantral: give token, or token_url + client_id + client_secret")
        if any(credentials) and not all(credentials):
            raise ValueError("gantral: client credentials need token_url, client_id, client_secret")
        return self

    def auth(self) -> Any:
        """The SDK's auth for these credentials; `ValueError` names a missing secret."""
        from gantral_sdk import BearerToken, ClientCredentials

        if self.token is not None:
            return BearerToken(_secret(self.token, "gantral.token"))
        assert self.token_url and self.client_id and self.client_secret
        secret = _secret(self.client_secret, "gantral.client_secret")
        return ClientCredentials(self.token_url, self.client_id, secret)


def _secret(reference: str, name: str) -> str:
    if reference.startswith("env:"):
        found = os.environ.get(reference[4:])
        if not found:
            raise ValueError(f"{name}: environment variable {reference[4:]} is not set")
        return found
    if not reference.startswith(("file:", "vault:")):
        raise ValueError(f"{name} must be a reference (env:, file:, vault:), not a literal secret")
    from gantral.identity.secrets import SecretResolver
    from gantral.settings.identity import IdentitySettings

    try:
        return (
            SecretResolver(IdentitySettings().vault)
            .resolve(SecretStr(reference))
            .get_secret_value()
        )
    except GantralError as exc:
        raise ValueError(f"{name}: {exc.message}") from exc


class ToolRule(_Strict):
    """Tool calls whose name matches `match` (and whose input matches `input_match`) are
    step `step`; `arguments` are the input fields bound to the grant (all when omitted)."""

    match: str
    step: str = Field(min_length=1)
    action: str = ""
    arguments: list[str] | None = None
    input_match: dict[str, str] = Field(default_factory=dict)
    on_unreachable: Unreachable | None = None

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str) -> str:
        re.compile(value)  # re.error is a ValueError: reported with the rule
        return value

    @field_validator("input_match")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            re.compile(pattern)
        return value

    def matches(self, tool: str, tool_input: dict[str, Any]) -> bool:
        if re.fullmatch(self.match, tool) is None:
            return False
        for name, pattern in self.input_match.items():
            value = tool_input.get(name)
            if not isinstance(value, str) or re.search(pattern, value) is None:
                return False
        return True

    def step_arguments(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        """What the human sees and the grant covers: the named fields (a missing one is
        null, so its absence is bound too), or the whole input."""
        if self.arguments is None:
            return dict(tool_input)
        return {name: tool_input.get(name) for name in self.arguments}


class HookConfig(_Strict):
    gantral: Connection
    workflow: str = Field(min_length=1)
    team: str = Field(min_length=1)
    wait: float = Field(default=300.0, gt=0, le=3600)
    unmapped: Literal["allow", "ask", "deny", "passthrough"] = "ask"
    on_unreachable: Unreachable = "deny"
    report_completion: bool = True
    tools: list[ToolRule] = Field(default_factory=list)

    def rule(self, tool: str, tool_input: dict[str, Any]) -> ToolRule | None:
        for rule in self.tools:
            if rule.matches(tool, tool_input):
                return rule
        return None


def load_config(path: Path) -> HookConfig:
    """Read and check the mapping file; `ValueError` says what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    try:
        return HookConfig.model_validate(raw)
    except ValidationError as exc:
        # Without the input values: the reason is shown to the model and kept in the
        # transcript, and a misplaced secret must not end up there.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ValueError(f"{path}: {problems}") from None
