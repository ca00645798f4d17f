"""Labels, names and COE rules."""

from __future__ import annotations

import random

import pytest

from magna.common.exceptions import Invalid
from magna.domain import coe, labels, names


def test_label_values_are_stored_as_magnum_strings() -> None:
    assert labels.stringify({"a": 1, "b": True, "c": 1.5, "d": "x"}) == {
        "a": "1", "b": "True", "c": "1.5", "d": "x"}
    assert labels.stringify(None) == {}


def test_python_literal_strings_are_accepted_for_dicts() -> None:
    assert labels.literal("{'env': 'dev'}", dict, "node_labels") == {"env": "dev"}
    assert labels.literal({"a": "b"}, dict, "labels") == {"a": "b"}
    with pytest.raises(Invalid):
        labels.literal("[1, 2]", dict, "labels")
    with pytest.raises(Invalid):
        labels.literal("__import__('os')", dict, "labels")


def test_label_comparison_against_the_template() -> None:
    overridden, added, skipped = labels.compare({"a": "2", "b": "1"}, {"a": "1", "c": "3"})
    assert overridden == {"a": "1"}
    assert added == {"b": "1"}
    assert skipped == {"c": "3"}


def test_generated_names_follow_magnums_pattern() -> None:
    name = names.generate("cluster", random.Random(4))
    greek, number, kind = name.split("-")
    assert greek in names.GREEK and 1 <= int(number) <= 24 and kind == "cluster"
    assert names.is_valid_cluster_name(name)


@pytest.mark.parametrize("value", ["", "1abc", "a b", "a/b", "x" * 243])
def test_cluster_name_rules(value: str) -> None:
    assert not names.is_valid_cluster_name(value)


def test_uuid_detection() -> None:
    assert names.is_uuid_like("6a1e8e0c-1f2b-4c3d-9e4f-5a6b7c8d9e0f")
    assert not names.is_uuid_like("my-cluster")


def _validate(**overrides: object) -> str:
    args: dict[str, object] = {"coe": "swarm-mode", "server_type": "vm", "network_driver": None,
                               "volume_driver": None, "allowed_network_drivers": ["all"],
                               "default_network_driver": "docker"}
    args.update(overrides)
    return coe.validate_template(**args)  # type: ignore[arg-type]


def test_swarm_mode_defaults_to_the_docker_network_driver() -> None:
    assert _validate() == "docker"
    assert _validate(network_driver="flannel") == "flannel"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"network_driver": "calico"}, "Network driver type calico is not supported"),
    ({"network_driver": "flannel", "allowed_network_drivers": ["docker"]}, "is not allowed"),
    ({"volume_driver": "cinder"}, "Volume driver type cinder is not supported"),
    ({"server_type": "container"}, "Server type container is not supported"),
])
def test_coe_rules_refuse_what_the_coe_does_not_support(overrides: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(Invalid) as caught:
        _validate(**overrides)
    assert message in caught.value.message


def test_devicemapper_needs_three_gigabytes() -> None:
    coe.validate_docker_volume_size("overlay2", 1)
    with pytest.raises(Invalid):
        coe.validate_docker_volume_size("devicemapper", 2)


def test_dns_nameserver_list() -> None:
    coe.validate_dns_nameserver("8.8.8.8,1.1.1.1")
    with pytest.raises(Invalid):
        coe.validate_dns_nameserver("8.8.8.8;1.1.1.1")


def test_what_needs_the_conductor() -> None:
    from magna.domain import clusters as lifecycle

    assert lifecycle.needs_work("CREATE_IN_PROGRESS", 1, 1)
    assert lifecycle.needs_work("UPDATE_COMPLETE", 1, 2)
    assert not lifecycle.needs_work("CREATE_COMPLETE", 1, 1)
    assert not lifecycle.needs_work("CREATE_FAILED", 0, 1), "a failure waits for the user"
