"""A mistyped `GANTRAL_*` variable stops the process naming it (and the nearest real
name), instead of being silently ignored; other programs' flat variables are left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gantral.startup import unknown_variables
from tests.unit.test_deploy_settings import gantral_env_names

ROOT = Path(__file__).parents[2]


def test_every_real_setting_is_known() -> None:
    assert unknown_variables({name: "x" for name in gantral_env_names()}) == []


def test_mistyped_names_are_named_with_the_nearest_real_one() -> None:
    found = unknown_variables(
        {
            "GANTRAL_TEMPORAL__ADRESS": "x",
            "GANTRAL_PROFIL": "x",
            "GANTRAL_NOPE__AT_ALL": "x",
            # Read by others (the SDK, the examples, the callbacks worker): not refused.
            "GANTRAL_API_URL": "x",
            "GANTRAL_TOKEN": "x",
            "GANTRAL_CALLBACKS__SECRET": "x",
            # Mapping fields take any key.
            "GANTRAL_IDENTITY__CLAIMS__ROLE_MAPPING__ADMINS": "[]",
        }
    )
    assert found == [
        "GANTRAL_NOPE__AT_ALL",
        "GANTRAL_PROFIL (did you mean GANTRAL_PROFILE?)",
        "GANTRAL_TEMPORAL__ADRESS (did you mean GANTRAL_TEMPORAL__ADDRESS?)",
    ]


def test_a_process_refuses_to_start_naming_the_variable(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GANTRAL_TEMPORAL__ADRESS": "127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "workers.worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "unknown settings: GANTRAL_TEMPORAL__ADRESS" in done.stderr
    assert "did you mean GANTRAL_TEMPORAL__ADDRESS?" in done.stderr
