"""The instance workflow and its typed messages. Pure orchestration: no I/O."""
