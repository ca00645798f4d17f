"""The busybox image's root filesystem and the registry's configuration, without engines."""

from __future__ import annotations

import io
import ipaddress
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from magna.drivers.local_nodes import engine, image, network, registry


@pytest.fixture
def fake_busybox(tmp_path: Path) -> str:
    """A stand-in binary whose ``--list`` names three applets (and itself)."""
    path = tmp_path / "busybox"
    path.write_text("#!/bin/sh\nprintf 'busybox\\nhttpd\\nsh\\nwget\\n'\n")
    path.chmod(0o755)
    return str(path)


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


def read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def test_the_root_filesystem_has_busybox_its_applets_and_a_page(fake_busybox: str) -> None:
    data = image.rootfs_tar(fake_busybox)
    found = members(data)
    assert sorted(found) == ["bin", "bin/busybox", "bin/httpd", "bin/sh", "bin/wget", "etc",
                             "etc/group", "etc/passwd", "root", "tmp", "www",
                             "www/index.html"]
    binary = found["bin/busybox"]
    assert binary.isreg() and binary.mode == 0o755
    assert read(data, "bin/busybox") == Path(fake_busybox).read_bytes()
    for applet in ("httpd", "sh", "wget"):
        link = found[f"bin/{applet}"]
        assert link.issym() and link.linkname == "busybox"
    assert found["tmp"].isdir() and found["tmp"].mode == 0o1777
    assert found["root"].mode == 0o700
    assert stat.S_IMODE(found["www/index.html"].mode) == 0o644
    assert b"Hello from a Magna cluster" in read(data, "www/index.html")
    assert read(data, "etc/passwd").startswith(b"root:x:0:0:")
    assert b"nobody:x:65534:" in read(data, "etc/group")
    assert {(m.uid, m.gid, m.mtime) for m in found.values()} == {(0, 0, image.MTIME)}


def test_the_same_binary_gives_the_same_archive(fake_busybox: str) -> None:
    assert image.rootfs_tar(fake_busybox) == image.rootfs_tar(fake_busybox)


@pytest.mark.skipif(shutil.which("busybox") is None or not os.path.exists(image.BUSYBOX),
                    reason="needs busybox-static")
def test_the_real_busybox_gives_a_link_per_applet() -> None:
    data = image.rootfs_tar()
    links = {name for name, member in members(data).items() if member.issym()}
    assert links == {f"bin/{name}" for name in image.applets() if name != "busybox"}
    assert {"bin/sh", "bin/httpd"} <= links


def test_the_note_names_the_images() -> None:
    assert image.NAME in image.note(None)
    assert "registry" not in image.note(None)
    with_registry = image.note("10.231.0.1:5000/magna/busybox:latest")
    assert "10.231.0.1:5000/magna/busybox:latest" in with_registry


def test_engines_trust_the_cluster_registry_and_the_template_one() -> None:
    assert registry.insecure_registries(None, None) == ()
    assert registry.insecure_registries("10.231.0.1", None) == ("10.231.0.1:5000",)
    assert registry.insecure_registries("10.231.0.1", "mirror:5000") == (
        "10.231.0.1:5000", "mirror:5000")
    spec = engine.EngineSpec(node_dir="/s/n", run_dir="/r/1", hostname="h", netns="ns",
                             address="10.231.0.2", cgroup_parent="/magna/x/n")
    assert "insecure-registries" not in spec.build()
    trusting = engine.EngineSpec(**{**spec.__dict__, "insecure_registries": ("a:5000",)})
    assert trusting.build()["insecure-registries"] == ["a:5000"]


def test_the_registry_listens_on_the_gateway_and_stores_in_the_state_dir() -> None:
    reg = registry.Registry(state_dir="/s/c/registry", run_dir="/r/c/registry", short="c",
                            allocation=network.Allocation(ipaddress.IPv4Network("10.9.8.0/24")))
    config = reg.build()
    assert config["http"]["addr"] == "10.9.8.1:5000"
    assert config["storage"]["filesystem"]["rootdirectory"] == "/s/c/registry/data"
    assert reg.config_path.startswith("/r/c/")  # the run dir: delete finds the process by it
    assert reg.image == "10.9.8.1:5000/magna/busybox:latest"
