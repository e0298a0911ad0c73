"""`python -m gantral.callbacks`: the callback worker (settings from GANTRAL_* and
GANTRAL_CALLBACKS__* variables)."""

import asyncio
import logging

from gantral.callbacks.worker import run

logging.basicConfig(level=logging.INFO)
asyncio.run(run())
