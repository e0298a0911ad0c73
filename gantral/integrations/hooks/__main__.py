"""`python -m gantral.integrations.hooks claude-code`: the hook without the whole `gantral`
command's imports (it runs on every tool call, so start-up time is the agent's latency)."""

from gantral.integrations.hooks.command import hook_app

hook_app(prog_name="gantral hook")
