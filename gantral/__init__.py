"""Gantral: an AI execution control plane.

Agents start governed *instances*; Gantral decides when an instance may proceed,
pauses it for human authority when policy says so, and records every decision in
a tamper-evident audit log.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
