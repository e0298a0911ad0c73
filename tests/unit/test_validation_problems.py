"""Invalid settings are reported by field and problem, never by the value given (it may be
a secret), in the same words wherever they are read: a process starting, `gantral dev`'s
optional processes, the identity CLI."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr, ValidationError, model_validator
from typer.testing import CliRunner

from gantral.cli.identity import identity_app
from gantral.devstack.extras import configured_extras
from gantral.devstack.process import StackError
from gantral.settings.validation_problems import validation_problems
from gantral.startup import load_settings

VALUE = "S3cret-not-a-number"


class _Inner(BaseModel):
    port: int


class _Model(BaseModel):
    token: SecretStr
    inner: _Inner

    @model_validator(mode="after")
    def _whole(self) -> _Model:
        raise ValueError("refused as a whole")


def test_names_fields_and_problems_never_values() -> None:
    with pytest.raises(ValidationError) as caught:
        _Model.model_validate({"inner": {"port": VALUE}})
    text = validation_problems(caught.value)
    assert text.startswith("token: Field required; inner.port: Input should be a valid integer")
    assert VALUE not in text
    with pytest.raises(ValidationError) as whole:
        _Model.model_validate({"token": VALUE, "inner": {"port": 1}})
    assert validation_problems(whole.value) == "settings: Value error, refused as a whole"


def test_every_reader_of_settings_reports_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANTRAL_CALLBACKS__MAX_ATTEMPTS", VALUE)
    with pytest.raises(StackError) as extra:
        configured_extras("python", "")
    assert str(extra.value) == (
        "invalid settings (CallbackSettings): max_attempts: "
        "Input should be a valid integer, unable to parse string as an integer"
    )
    monkeypatch.delenv("GANTRAL_CALLBACKS__MAX_ATTEMPTS")
    monkeypatch.setenv("GANTRAL_API__PORT", VALUE)
    problem = "api.port: Input should be a valid integer, unable to parse string as an integer"
    with pytest.raises(SystemExit) as start:
        load_settings()
    assert str(start.value) == f"refusing to start, invalid settings: {problem}"
    minted = CliRunner().invoke(identity_app, ["mint", "--user", "alice"])
    assert minted.exit_code == 2
    assert f"refused: invalid settings: {problem}" in minted.output
    assert VALUE not in minted.output
