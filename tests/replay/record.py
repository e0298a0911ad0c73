"""Re-record the replay corpus: `python -m tests.replay.record`.

Runs the integration scenarios on a real local stack (started by the test fixtures, as
for the integration suite) and rewrites tests/replay/histories/*.json. Do it when a
workflow change is meant to break old histories, i.e. no instance of the old shape can
still be running; otherwise keep the old histories and use `workflow.patched()`
(docs/replay.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RECORD_ENV = "GANTRAL_RECORD_REPLAY"
RECORDER = Path(__file__).parents[1] / "integration" / "test_replay_record.py"


def main() -> int:
    env = {**os.environ, RECORD_ENV: "1"}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(RECORDER)]
    return subprocess.call(argv, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
