"""The README's walk-through done in the browser alone, as issue 17 asks of a new user.

``magna serve`` (default drivers: a real local swarm), open ``/``, create a template and a
cluster from it, watch it build without reloading, download its config and use it with the
native ``docker`` client (the one step outside the browser), show the CA and sign a CSR, look
at the node groups, resize, and delete. Every step is a click or a form in chromium; the API
is read only to check what the page said.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.dashboard_clusters import (
    SETTLE_MS,
    api_client,
    cleaning_server,
    gone,
    poll,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.docker


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with cleaning_server(str(tmp_path / "state")) as running:
        yield running


def csr_for(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def docker_nodes(config_zip: Path, workdir: Path) -> list[str]:
    """``docker node ls`` with the downloaded config, as the user runs it: the Ready nodes."""
    with zipfile.ZipFile(config_zip) as archive:
        archive.extractall(workdir / "swarm-cluster")
    result = subprocess.run(
        ["bash", "-c", ". swarm-cluster/env.sh && docker node ls --format "
         "'{{.Hostname}} {{.Status}}'"], cwd=workdir, capture_output=True, text=True,
        timeout=60, env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir)})
    assert result.returncode == 0, result.stderr
    return sorted(line.split()[0] for line in result.stdout.splitlines() if "Ready" in line)


def download_config(tab: Page, target: Path) -> Path:
    with tab.expect_download() as info:
        tab.locator("#download-config").click()
    info.value.save_as(target)
    return target


def test_the_readme_walkthrough_in_the_browser(server: RunningServer, tab: Page,
                                               tmp_path: Path) -> None:
    # Open the service the way a user does: its root, in a browser.
    tab.goto(server.url + "/")
    expect(tab.get_by_role("heading", name="Clusters")).to_be_visible()

    # The template: swarm-mode, the Debian image, small flavors, a label.
    tab.get_by_role("link", name="Cluster templates").click()
    tab.get_by_role("link", name="Create template").click()
    tab.get_by_label(re.compile(r"^\s*Name")).fill("swarm-template")
    tab.get_by_label(re.compile(r"^\s*Container orchestration engine")).select_option(
        "swarm-mode")
    tab.get_by_label(re.compile(r"^\s*Image")).select_option("debian-12-docker")
    tab.get_by_label(re.compile(r"^\s*External network")).fill("public")
    tab.get_by_label(re.compile(r"^\s*Worker flavor")).select_option("m1.small")
    tab.get_by_label(re.compile(r"^\s*Control-plane flavor")).select_option("m1.small")
    tab.get_by_label(re.compile(r"^\s*Labels")).fill("purpose=demo")
    tab.get_by_role("button", name="Create template").click()
    expect(tab.get_by_role("heading", name="Cluster template swarm-template")).to_be_visible()

    # The cluster, from that template: 1 control-plane node and 2 workers.
    tab.locator("#create-cluster-from-template").click()
    expect(tab.get_by_role("heading", name="Create cluster")).to_be_visible()
    tab.get_by_label("Cluster name").fill("swarm-cluster")
    tab.get_by_label("Master count").fill("1")
    tab.get_by_label("Node count").fill("2")
    tab.get_by_role("button", name="Create cluster").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/clusters/[0-9a-f-]{36}$"))
    uuid = tab.url.rsplit("/", 1)[1]
    # It builds while the page stays open: the status changes without a reload.
    expect(tab.locator("#cluster-status")).to_have_text("CREATE_COMPLETE", timeout=SETTLE_MS)
    expect(tab.locator("#cluster-health")).to_have_text("HEALTHY", timeout=SETTLE_MS)

    # The native client with the downloaded config: three nodes, Ready.
    nodes = docker_nodes(download_config(tab, tmp_path / "config.zip"), tmp_path / "one")
    assert nodes == ["swarm-cluster-default-master-0", "swarm-cluster-default-worker-0",
                     "swarm-cluster-default-worker-1"]

    # The cluster's CA, and a certificate it signs.
    tab.locator("#show-ca").click()
    ca = x509.load_pem_x509_certificate(tab.locator("#ca-pem").inner_text().encode())
    tab.go_back()
    tab.locator("#sign-csr").click()
    tab.get_by_label("Certificate signing request (PEM)").fill(csr_for("me"))
    tab.get_by_role("button", name="Sign", exact=True).click()
    signed = x509.load_pem_x509_certificate(tab.locator("#signed-cert").inner_text().encode())
    signed.verify_directly_issued_by(ca)
    assert signed.subject.rfc4514_string() == "CN=me"

    # Its node groups.
    tab.goto(f"{server.url}/dashboard/clusters/{uuid}")
    tab.locator("#nodegroups-link").click()
    expect(tab.locator("#nodegroup-rows tr[data-name=default-worker] td.count")).to_have_text("2")
    expect(tab.locator("#nodegroup-rows tr[data-name=default-master] td.count")).to_have_text("1")

    # Resize to three workers, and watch it.
    tab.goto(f"{server.url}/dashboard/clusters/{uuid}")
    tab.locator("#resize").click()
    tab.get_by_label("Node count").fill("3")
    tab.get_by_role("button", name="Resize").click()
    expect(tab).to_have_url(re.compile(rf"/dashboard/clusters/{uuid}$"))
    expect(tab.locator("#cluster-status")).to_have_text("UPDATE_COMPLETE", timeout=SETTLE_MS)
    nodes = docker_nodes(download_config(tab, tmp_path / "config2.zip"), tmp_path / "two")
    assert len(nodes) == 4, nodes

    tab.goto(f"{server.url}/dashboard/clusters")
    row = tab.locator(f"#cluster-rows tr[data-uuid='{uuid}']")
    expect(row.locator("td.status")).to_have_text("UPDATE_COMPLETE")
    screenshot(tab, "clusters")
    # The filters narrow the table as one types.
    tab.get_by_label("Filter by Name").fill("no-such-cluster")
    expect(row).to_have_count(0)
    tab.get_by_label("Filter by Name").fill("swarm")
    expect(row).to_have_count(1)

    # Delete it from the list: the row shows it going, then it is gone.
    row.get_by_role("checkbox").check()
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Delete selected").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/clusters$"))
    expect(row).to_have_count(0, timeout=SETTLE_MS)
    with api_client(server) as api:
        poll("the cluster is gone from the API", lambda: gone(api, uuid))
        assert httpx.get(server.url + "/v1/clusters").json()["clusters"] == []
