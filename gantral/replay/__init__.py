"""Deterministic replay: rebuild an instance from its history and its audit log, check
that today's workflow code decides the same, and backtest a policy on the past.

`gantral.replay.service.replay_instance` is the entry point; it is not imported here, so
importing the package (for a report) does not load the audit sink's archive modules."""

from gantral.replay.report import ReplayReport, sign_report, verify_report

__all__ = ["ReplayReport", "sign_report", "verify_report"]
