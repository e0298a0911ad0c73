"""Coding-agent hooks: govern the tool calls a coding agent (Claude Code) makes, where it
makes them, through the harness's own hook protocol. See `claude_code` for the protocol,
`config` for the mapping file, `install` for the settings file it is written into and
`command` for the `hook` commands."""
