"""The local stack's real servers as the session fixture `stack` hands them to tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gantral.devstack.process import ManagedProcess
from gantral.devstack.services import Postgres


@dataclass
class Stack:
    data_dir: Path
    temporal_address: str
    temporal: ManagedProcess
    postgres: Postgres
    s3_endpoint: str
    seaweedfs: ManagedProcess

    @property
    def postgres_uri(self) -> str:
        return self.postgres.uri
