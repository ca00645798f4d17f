"""``/v1/keypairs`` (Magna's extension): upload, list, show, delete; bad input is a clear 4xx in
Magnum's error shape; policy; a stored key is what the local driver's catalog then offers."""

from __future__ import annotations

from pathlib import Path

from tests.support.api import ApiClient, assert_error, make_cluster, make_template
from tests.support.ssh import ssh_public_key


def test_upload_list_show_delete(api: ApiClient, tmp_path: Path) -> None:
    key = ssh_public_key("rsa") + " me@laptop"
    made = api.post("/v1/keypairs", json={"name": "testkey", "public_key": key + "\n"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "testkey" and body["public_key"] == key
    assert body["fingerprint"].startswith("SHA256:") and len(body["fingerprint"]) == 50
    assert body["links"][0]["href"].endswith("/v1/keypairs/testkey")
    # The local driver's catalog reads it from disk, so templates can name it.
    assert (tmp_path / "keypairs" / "testkey.pub").read_text() == key + "\n"
    template = make_template(api, keypair_id="testkey")["uuid"]
    make_cluster(api, template, name="before")
    assert [k["name"] for k in api.get("/v1/keypairs").json()["keypairs"]] == ["testkey"]
    assert api.get("/v1/keypairs/testkey").json()["fingerprint"] == body["fingerprint"]
    assert api.delete("/v1/keypairs/testkey").status_code == 204
    assert not (tmp_path / "keypairs" / "testkey.pub").exists()
    assert_error(api.get("/v1/keypairs/testkey"), 404, "Keypair testkey could not be found.")
    assert_error(api.delete("/v1/keypairs/testkey"), 404, "Keypair testkey could not be found.")
    assert_error(api.post("/v1/clusters", json={"name": "after", "cluster_template_id": template}),
                 404, "Unable to find keypair testkey.")


def test_bad_keys_and_names_are_400_and_duplicates_409(api: ApiClient) -> None:
    key = ssh_public_key()
    assert api.post("/v1/keypairs", json={"name": "k", "public_key": key}).status_code == 201
    assert_error(api.post("/v1/keypairs", json={"name": "k", "public_key": key}), 409,
                 "Key pair 'k' already exists.")
    for bad in ("not a key", "ssh-ed25519 AAAA", "ssh-rsa !!!!", f"{key}\n{key}",
                "-----BEGIN PUBLIC KEY-----"):
        assert_error(api.post("/v1/keypairs", json={"name": "x", "public_key": bad}), 400,
                     "Keypair data is invalid")
    for name in ("../etc", ".hidden", "a/b", "with space"):
        assert_error(api.post("/v1/keypairs", json={"name": name, "public_key": key}), 400,
                     f"Keypair name '{name}' is invalid")
    assert_error(api.post("/v1/keypairs", json={"name": "x" * 256, "public_key": key}), 400,
                 "at most 255 characters")
    assert_error(api.post("/v1/keypairs", json={"name": "x"}), 400, "public_key")
    assert_error(api.post("/v1/keypairs", json={"name": "x", "public_key": key, "extra": 1}),
                 400, "extra")


def test_policy_and_discovery(api: ApiClient) -> None:
    key = ssh_public_key()
    reader = api.as_user("p1", roles="reader")
    assert_error(reader.post("/v1/keypairs", json={"name": "r", "public_key": key}), 403,
                 "keypair:create")
    assert reader.get("/v1/keypairs").status_code == 200
    member = api.as_user("p1")
    assert member.post("/v1/keypairs", json={"name": "m", "public_key": key}).status_code == 201
    assert_error(reader.delete("/v1/keypairs/m"), 403, "keypair:delete")
    assert member.delete("/v1/keypairs/m").status_code == 204
    links = api.get("/v1").json()["keypairs"]
    assert links[0]["href"].endswith("/v1/keypairs/")


def test_a_drivers_catalog_key_cannot_be_deleted_409(tmp_path: Path, db_url: str) -> None:
    from starlette.testclient import TestClient

    from magna.cmd.api import build_app
    from tests.conftest import make_conf

    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["fake"]})
    with TestClient(build_app(conf)) as client:
        api = ApiClient(client)
        assert api.get("/v1/keypairs/fake-key").status_code == 200
        assert_error(api.delete("/v1/keypairs/fake-key"), 409,
                     "Keypair fake-key is part of a driver's catalog and cannot be deleted.")
        nova = api.delete("/compute/v2.1/os-keypairs/fake-key")
        assert nova.status_code == 409 and "conflictingRequest" in nova.json(), nova.text
        assert api.get("/v1/keypairs/fake-key").status_code == 200
