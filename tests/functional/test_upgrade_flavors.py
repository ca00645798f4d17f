"""An upgrade to a template with other flavors: the default nodegroups take them (the local
Swarm driver then changes the nodes' cgroup limits in place); a flavor chosen at create time
stays unless the new template changes it."""

from __future__ import annotations

from tests.support.api import ApiClient, make_cluster, make_template


def _flavors(api: ApiClient, uuid: str) -> dict[str, str]:
    groups = api.get(f"/v1/clusters/{uuid}/nodegroups").json()["nodegroups"]
    return {ng["name"]: api.get(f"/v1/clusters/{uuid}/nodegroups/{ng['uuid']}").json()[
        "flavor_id"] for ng in groups}


def test_an_upgrade_carries_changed_flavors_to_the_default_nodegroups(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"], flavor_id="m1.medium")
    make_template(api, name="bigger-masters", master_flavor_id="m1.large")
    response = api.post(f"/v1/clusters/{uuid}/actions/upgrade",
                        json={"cluster_template": "bigger-masters"})
    assert response.status_code == 202, response.text
    assert _flavors(api, uuid) == {"default-master": "m1.large", "default-worker": "m1.medium"}
    cluster = api.get(f"/v1/clusters/{uuid}").json()
    assert (cluster["master_flavor_id"], cluster["flavor_id"]) == ("m1.large", "m1.medium")

    make_template(api, name="bigger-workers", master_flavor_id="m1.large", flavor_id="m1.tiny")
    response = api.post(f"/v1/clusters/{uuid}/actions/upgrade",
                        json={"cluster_template": "bigger-workers"})
    assert response.status_code == 202, response.text
    assert _flavors(api, uuid) == {"default-master": "m1.large", "default-worker": "m1.tiny"}
