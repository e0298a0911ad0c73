"""Governing a fleet: acts that apply to many instances at once (halts, the kill switch)."""
