"""Deterministic replay: rebuild an instance from its history and its audit log, check
that today's workflow code decides the same, and backtest a policy on the past.

`gantral.replay.service.replay_instance` is the entry point; it is not imported here,
because the audit sink imports `gantral.replay.history` and the service imports the sink's
archive module (a cycle)."""

from gantral.replay.report import ReplayReport, sign_report, verify_report

__all__ = ["ReplayReport", "sign_report", "verify_report"]
