"""Form text → API values (dashboard/forms.py and the cluster and node-group forms), and where
an API message is shown."""

from __future__ import annotations

import pytest

from magna.dashboard.forms import BadText, locate, number, parse_pairs
from magna.dashboard.pages.cluster_forms import ALIASES, CREATE_FIELDS, create_body, node_names
from magna.dashboard.pages.nodegroups import format_taints, parse_taints
from magna.dashboard.web import Form


def test_a_number_is_sent_as_one_and_anything_else_as_typed() -> None:
    assert (number("3"), number(" 3"), number("three")) == (3, 3, "three")


def test_label_lines_become_a_dict_and_a_line_without_a_value_is_refused() -> None:
    assert parse_pairs("a=1\n\n b = two words \nc=", "labels") == {
        "a": "1", "b": "two words", "c": ""}
    with pytest.raises(BadText, match="'oops' is not a key=value line") as caught:
        parse_pairs("a=1\noops", "labels")
    assert caught.value.field == "labels"


def test_the_wizard_sends_only_what_was_filled_and_merges_labels() -> None:
    form = Form({"cluster_template_id": ["t"], "name": ["c"], "keypair": [""],
                 "master_count": ["3"], "node_count": ["x"], "master_lb_enabled": ["false"],
                 "floating_ip_enabled": [""], "auto_healing_enabled": ["true"],
                 "labels": ["k=v"]})
    assert create_body(form) == {
        "cluster_template_id": "t", "name": "c", "master_count": 3, "node_count": "x",
        "master_lb_enabled": False, "labels": {"k": "v", "auto_healing_enabled": "true"},
        "merge_labels": True}


def test_without_labels_the_template_keeps_its_own() -> None:
    body = create_body(Form({"cluster_template_id": ["t"]}))
    assert body == {"cluster_template_id": "t"}


@pytest.mark.parametrize(("message", "field"), [
    ("Invalid input for field/attribute node_count. Value: 'x'.", "node_count"),
    ("master nodegroup size of 2 is invalid, size cannot be an even number.", "master_count"),
    ("Unable to find keypair nope.", "keypair"),
    ("Unable to find flavor m1.huge.", "flavor_id"),
    ("Policy doesn't allow cluster:create to be performed.", "_form"),
])
def test_an_api_message_goes_beside_the_field_it_is_about(message: str, field: str) -> None:
    values = {"flavor_id": "m1.huge", "master_flavor_id": "m1.small", "master_count": "2",
              "name": "c"}
    assert locate(message, CREATE_FIELDS, values, ALIASES) == {field: message}


def test_a_number_typed_by_the_user_does_not_place_a_message() -> None:
    message = "Quota exceeded: 10 clusters allowed."
    assert locate(message, CREATE_FIELDS, {"node_count": "10"}, ALIASES) == {"_form": message}


def test_the_nodes_of_a_group_come_from_the_health_report_in_index_order() -> None:
    cluster = {"health_status_reason": {"api": "ok", "default-worker-10.Ready": "True",
                                        "default-worker-2.Ready": "True",
                                        "default-master-0.Ready": "True",
                                        "default-worker-x.Ready": "True"}}
    assert node_names(cluster, "default-worker") == ["default-worker-2", "default-worker-10"]
    assert node_names({"health_status_reason": None}, "default-worker") == []


def test_taint_lines_in_kubectl_syntax() -> None:
    taints = parse_taints("dedicated=db:NoSchedule\nspot:NoExecute\nbare=1\n")
    assert taints == [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                      {"key": "spot", "effect": "NoExecute"}, {"key": "bare", "value": "1"}]
    assert format_taints(taints[:2]) == ["dedicated=db:NoSchedule", "spot:NoExecute"]
    with pytest.raises(BadText):
        parse_taints("=x:NoSchedule")
