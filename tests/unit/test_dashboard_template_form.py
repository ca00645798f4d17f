"""The template form's strings as the API's values, patches and error placement."""

from __future__ import annotations

import pytest

from magna.dashboard.forms import BadText
from magna.dashboard.pages import template_form as tf

STORED = {"name": "t", "coe": "swarm-mode", "image_id": "debian-12-docker", "flavor_id": None,
          "master_flavor_id": "m1.small", "docker_volume_size": 2, "labels": {"a": "1"},
          "public": False, "hidden": False, "floating_ip_enabled": True, "tls_disabled": False,
          "registry_enabled": False, "master_lb_enabled": False, "server_type": "vm"}


def test_a_new_template_sends_what_was_set_typed() -> None:
    body = tf.create_body({"name": "t", "coe": "swarm-mode", "image_id": "img",
                           "apiserver_port": "2375", "docker_volume_size": "",
                           "labels": "a=1\n\n b = two words ", "public": "true",
                           "fixed_network": ""})
    assert body["apiserver_port"] == 2375
    assert body["labels"] == {"a": "1", "b": "two words"}
    assert body["public"] is True and body["hidden"] is False
    assert "docker_volume_size" not in body and "fixed_network" not in body


def test_a_number_field_that_is_not_a_number_goes_to_the_api_as_typed() -> None:
    assert tf.create_body({"apiserver_port": "12ab"})["apiserver_port"] == "12ab"


def test_an_unchanged_form_patches_nothing() -> None:
    assert tf.patch_ops(STORED, tf.form_values(STORED)) == []


def test_the_patch_names_only_what_changed() -> None:
    values = tf.form_values(STORED)
    values.update(name="u", master_flavor_id="", labels="a=1\nb=2", hidden="true")
    assert sorted(tf.patch_ops(STORED, values), key=lambda op: op["path"]) == [
        {"op": "replace", "path": "/hidden", "value": True},
        {"op": "replace", "path": "/labels", "value": {"a": "1", "b": "2"}},
        {"op": "remove", "path": "/master_flavor_id"},
        {"op": "replace", "path": "/name", "value": "u"},
    ]


def test_a_label_line_without_equals_is_refused_by_the_form() -> None:
    with pytest.raises(BadText, match="'just-a-key' is not a key=value line") as caught:
        tf.create_body({"coe": "swarm-mode", "labels": "a=1\njust-a-key"})
    assert caught.value.field == "labels"


@pytest.mark.parametrize(("message", "values", "field"), [
    ("Volume driver type cinder is not supported, expecting a rexray/unspecified volume "
     "driver.", {}, "volume_driver"),
    ("Invalid input for field/attribute docker_volume_size. Value: '0'.", {},
     "docker_volume_size"),
    ("Unable to find flavor m1.huge.", {"flavor_id": "m1.small", "master_flavor_id": "m1.huge"},
     "master_flavor_id"),
    ("Unable to find flavor m1.huge.", {"flavor_id": "m1.huge"}, "flavor_id"),
    ("Label swarm_strategy=bogus is not accepted by the local Swarm driver.", {}, "labels"),
    ("Unable to find fixed network nope.", {}, "fixed_network"),
    ("Policy doesn't allow clustertemplate:create to be performed.", {}, "_form"),
])
def test_the_api_message_goes_beside_the_field_it_names(
        message: str, values: dict[str, str], field: str) -> None:
    assert tf.errors_for(message, values) == {field: message}
