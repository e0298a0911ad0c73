"""Materiality is a domain type (`gantral.domain.materiality`); policies name it from here too."""

from gantral.domain.materiality import Materiality, highest

__all__ = ["Materiality", "highest"]
