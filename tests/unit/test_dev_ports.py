"""`gantral dev`'s ports: the derived ones follow the options (the defaults give the
defaults), and the pre-flight check names a port used twice with both its users."""

from __future__ import annotations

import pytest

from gantral.devstack.process import StackError
from gantral.devstack.run import DevPorts, check_ports


def test_the_defaults_derive_the_default_internal_ports() -> None:
    assert DevPorts.derived() == DevPorts()
    assert DevPorts().seaweedfs_base == 9333 and DevPorts().worker_metrics == 9464


def test_the_readme_second_stack_shares_no_port_with_the_default_one() -> None:
    second = DevPorts.derived(api=8100, temporal=7300, temporal_ui=8300, s3=8400, issuer=8700)
    first = {port for port, _ in DevPorts().listening()}
    assert first.isdisjoint(port for port, _ in second.listening())
    assert (second.seaweedfs_base, second.worker_metrics, second.sink_metrics) == (9400, 9564, 9565)


def test_explicit_internal_ports_win() -> None:
    ports = DevPorts.derived(seaweedfs_base=20000, worker_metrics=20100, sink_metrics=20101)
    assert (ports.seaweedfs_base, ports.worker_metrics, ports.sink_metrics) == (20000, 20100, 20101)


def test_a_port_used_twice_is_named_with_both_options() -> None:
    ports = DevPorts.derived(api=8000, s3=8333, worker_metrics=8333)
    with pytest.raises(StackError) as err:
        check_ports(ports)
    assert "8333 is used twice: S3 (--s3-port) and worker metrics" in str(err.value)


def test_a_derived_port_out_of_range_is_named() -> None:
    with pytest.raises(StackError, match=r"75000 \(SeaweedFS internal .*\) is out of range"):
        check_ports(DevPorts.derived(s3=64000))


def test_the_witness_port_is_taken_only_when_asked_for_and_follows_the_api_port() -> None:
    assert DevPorts.derived().witness is None
    assert all("witness" not in what for _, what in DevPorts.derived().listening())
    first = DevPorts.derived(with_witness=True)
    second = DevPorts.derived(
        api=8100, temporal=7300, temporal_ui=8300, s3=8400, issuer=8700, with_witness=True
    )
    assert (first.witness, second.witness) == (9466, 9566)
    assert {p for p, _ in first.listening()}.isdisjoint(p for p, _ in second.listening())
    assert (9466, "witness (--witness-port, default --api-port + 1466)") in first.listening()
    assert DevPorts.derived(with_witness=True, witness=20200).witness == 20200
