"""The cluster page's pure parts: health rows, the timeline's durations, the workload sections
(the Kubernetes ones too, which the browser tests do not build a cluster for) and the config
bundle."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

from magna.client import tlsconfig
from magna.dashboard.apicall import ApiError
from magna.dashboard.pages.cluster_certs import bundle, not_ready, zipped
from magna.dashboard.pages.cluster_detail import (
    NodeHealth,
    node_health,
    timeline,
    workload_sections,
)
from magna.dashboard.web import templates


def test_health_reason_becomes_one_row_per_node_and_condition() -> None:
    rows = node_health({"api": "ok", "default-master-0.Ready": "True",
                        "default-worker-1.Ready": "False: engine not answering",
                        "note": "checked by hand"})
    assert rows == [
        NodeHealth("api", "", True, ""),
        NodeHealth("default-master-0", "Ready", True, ""),
        NodeHealth("default-worker-1", "Ready", False, "engine not answering"),
        NodeHealth("note", "", None, "checked by hand"),
    ]
    assert node_health(None) == []


def event(at: str, generation: int, message: str = "m") -> dict[str, object]:
    return {"created_at": at, "generation": generation, "level": "info",
            "reason": "Converged", "message": message}


def test_each_phase_is_timed_from_the_previous_event_of_its_operation() -> None:
    cluster = {"created_at": "2026-12-06T10:00:00+00:00"}
    entries = timeline([event("2026-12-06T10:00:04.5+00:00", 1),
                        event("2026-12-06T10:00:06+00:00", 1),
                        event("2026-12-06T10:05:00+00:00", 2),
                        event("2026-12-06T10:07:10+00:00", 2)], cluster)
    assert [e.took for e in entries] == ["4.5 s", "1.5 s", "", "2 min 10 s"]
    assert [e.generation for e in entries] == [1, 1, 2, 2]


def test_an_event_without_a_time_has_no_duration_and_breaks_nothing() -> None:
    entries = timeline([{"generation": 1, "message": "x"}], {"created_at": None})
    assert entries[0].took == "" and entries[0].message == "x"


PODS = [{"name": "web-1", "namespace": "default", "images": ["magna/busybox:latest"],
         "status": "Running", "host": "k8s-default-worker-0", "ip": "10.100.1.5"}]
SERVICES = [{"name": "web", "namespace": "default", "type": "NodePort", "ip": "10.254.0.9",
             "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080,
                        "protocol": "TCP"}]}]


def test_kubernetes_sections_shape_pods_rcs_and_services_and_keep_a_refusal() -> None:
    refused = ApiError(503, "The cluster's API server did not answer.")
    sections = workload_sections("kubernetes", {"pods": PODS, "rcs": refused,
                                                "services": SERVICES})
    assert [s.id for s in sections] == ["pods", "rcs", "services"]
    pods, rcs, services = sections
    assert pods.rows == [{"name": "web-1", "namespace": "default",
                          "images": "magna/busybox:latest", "status": "Running",
                          "host": "k8s-default-worker-0", "ip": "10.100.1.5"}]
    assert rcs.rows == [] and rcs.message == "The cluster's API server did not answer."
    assert services.rows[0]["ports"] == "80→8080/TCP"


def test_swarm_clusters_get_containers_and_other_coes_nothing() -> None:
    sections = workload_sections("swarm-mode", {"containers": [
        {"name": "box", "image": "magna/busybox:latest", "status": "Running",
         "host": "10.231.0.3", "command": ["sleep", "1"]}]})
    assert [(s.id, s.rows) for s in sections] == [("containers", [
        {"name": "box", "image": "magna/busybox:latest", "status": "Running",
         "host": "10.231.0.3"}])]
    assert workload_sections(None, {}) == []


def test_the_kubernetes_sections_render_rows_and_the_apis_message() -> None:
    sections = workload_sections("kubernetes", {
        "pods": PODS, "rcs": ApiError(409, "Cluster k is CREATE_IN_PROGRESS."),
        "services": []})
    html = templates().get_template("clusters/detail_workloads.html").render(
        prefix="/dashboard", cluster={"uuid": "u"}, sections=sections)
    assert 'id="pods"' in html and "<td>web-1</td>" in html
    assert 'id="rcs-message"' in html and "Cluster k is CREATE_IN_PROGRESS." in html
    assert 'id="services"' in html and "None." in html


CREDS = tlsconfig.Credentials(ca_pem="CA\n", cert_pem="CERT\n", key_pem="KEY\n")


def unpack_and_source(files: dict[str, tuple[str, int]], tmp_path: Path,
                      variables: str) -> str:
    """Unpack the zip into tmp/sub and source env.sh from tmp, as a user would."""
    with zipfile.ZipFile(io.BytesIO(zipped(files))) as archive:
        archive.extractall(tmp_path / "sub")
    return subprocess.run(["bash", "-c", f". sub/env.sh && echo {variables}"], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_swarm_bundle_points_docker_at_the_files_beside_env_sh(tmp_path: Path) -> None:
    files = bundle({"name": "c", "api_address": "tcp://10.0.0.2:2375"},
                   {"coe": "swarm-mode"}, CREDS)
    assert sorted(files) == ["ca.pem", "cert.pem", "env.sh", "key.pem"]
    out = unpack_and_source(files, tmp_path,
                            "$DOCKER_HOST $DOCKER_TLS_VERIFY $DOCKER_CERT_PATH")
    assert out == f"tcp://10.0.0.2:2375 1 {tmp_path / 'sub'}"


def test_a_kubernetes_bundle_is_a_kubeconfig_found_from_env_sh(tmp_path: Path) -> None:
    files = bundle({"name": "k", "api_address": "https://10.0.0.2:6443"},
                   {"coe": "kubernetes"}, CREDS)
    assert sorted(files) == ["config", "env.sh"]
    assert unpack_and_source(files, tmp_path, "$KUBECONFIG") == str(tmp_path / "sub/config")


def test_a_tls_disabled_bundle_is_the_address_alone(tmp_path: Path) -> None:
    files = bundle({"name": "c", "api_address": "tcp://10.0.0.2:2375"},
                   {"coe": "swarm-mode", "tls_disabled": True}, None)
    assert sorted(files) == ["env.sh"]
    assert unpack_and_source(files, tmp_path, "$DOCKER_HOST") == "tcp://10.0.0.2:2375"


def test_the_zip_keeps_the_keys_mode() -> None:
    data = zipped({"key.pem": ("KEY\n", 0o600), "ca.pem": ("CA\n", 0o644)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
        assert archive.read("key.pem") == b"KEY\n"
    assert modes == {"key.pem": 0o600, "ca.pem": 0o644}


def test_only_a_complete_cluster_has_a_configuration_to_download() -> None:
    assert not_ready({"status": "CREATE_COMPLETE"}) is None
    assert not_ready({"status": "UPDATE_COMPLETE"}) is None
    for status in ("CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS"):
        assert not_ready({"status": status}) == (
            "The configuration can be downloaded once the cluster is complete; it is "
            f"{status} now.")
