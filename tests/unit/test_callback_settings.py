"""`GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES` takes one URL, a comma-separated list or a
JSON array; anything else stops `gantral dev` and the callback worker with one line."""

from __future__ import annotations

import pytest

from gantral.devstack.extras import configured_extras
from gantral.devstack.process import StackError
from gantral.settings.callbacks import CallbackSettings, load_callback_settings

VAR = "GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES"


@pytest.mark.parametrize(
    ("value", "prefixes"),
    [
        ("https://hooks.example.com/", ["https://hooks.example.com/"]),
        (" https://a.example/x/ , http://127.0.0.1:9/h/ ", ["https://a.example/x/", "http://127.0.0.1:9/h/"]),
        ('["https://a.example/x/", "https://b.example/"]', ["https://a.example/x/", "https://b.example/"]),
        ("", []),
    ],
)  # fmt: skip
def test_one_url_a_list_or_a_json_array(
    monkeypatch: pytest.MonkeyPatch, value: str, prefixes: list[str]
) -> None:
    monkeypatch.setenv(VAR, value)
    assert CallbackSettings().allowed_url_prefixes == prefixes


def test_a_plain_url_starts_the_callback_worker_under_gantral_dev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(VAR, "https://hooks.example.com/")
    [extra] = configured_extras("python", "")
    assert extra.name == "callbacks" and "https://hooks.example.com/" in extra.summary


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('["https://a.example/"', "not a JSON array"),
        ("hooks.example.com", "must name a scheme, a host and a path"),
        ('{"a": 1}', "must name a scheme, a host and a path"),
    ],
)
def test_a_bad_value_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv(VAR, value)
    with pytest.raises(StackError) as dev:
        configured_extras("python", "")
    message = str(dev.value)
    assert message.startswith("invalid settings (CallbackSettings): allowed_url_prefixes: ")
    assert problem in message and "\n" not in message
    with pytest.raises(SystemExit) as worker:
        load_callback_settings()
    assert str(worker.value).startswith("refusing to start, invalid settings: allowed_url_")
