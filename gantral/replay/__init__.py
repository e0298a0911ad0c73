"""Deterministic replay: rebuild an instance from its history and its audit log, check
that today's workflow code decides the same, and backtest a policy on the past."""

from gantral.replay.report import ReplayReport, sign_report, verify_report
from gantral.replay.service import replay_instance

__all__ = ["ReplayReport", "replay_instance", "sign_report", "verify_report"]
