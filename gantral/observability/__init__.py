"""Logs, metrics and traces of every Gantral process (issue 14)."""
