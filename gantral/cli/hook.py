"""`gantral hook`: the command group lives with the hooks (`gantral.integrations.hooks.command`),
which run it without the `gantral` command (`python -m gantral.integrations.hooks`)."""

from gantral.integrations.hooks.command import hook_app

__all__ = ["hook_app"]
