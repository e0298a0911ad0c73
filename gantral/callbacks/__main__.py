"""`python -m gantral.callbacks`: the callback worker (settings from GANTRAL_* and
GANTRAL_CALLBACKS__* variables). SIGTERM or SIGINT stops it cleanly."""

from gantral.callbacks.worker import run
from gantral.shutdown import run_until_signalled
from gantral.startup import configure_logging

configure_logging()
run_until_signalled("callback worker", run)
