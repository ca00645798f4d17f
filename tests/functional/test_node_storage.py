"""A node's own disk (``docker_volume_size``), its storage driver, and the storage refusals.

The volume's parts run for real here (``mkfs.ext4``, loop devices, a mount in a namespace of
its own), then whole clusters: a swarm-mode cluster built through the API and a real conductor
whose nodes' data roots are filesystems of the asked size, a nodegroup with a size of its own,
a node that fills its disk, an engine killed and restarted on the same filesystem, and nothing
left after delete. The refusals go through the API with the shipped local drivers, building
nothing.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from magna.common.exceptions import TemporaryError
from magna.drivers.base import NodeGroupSpec
from magna.drivers.local_nodes import engine, image, storage
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error, make_template
from tests.support.conductor import FAST, Stack, conductor_stack, wait_for
from tests.support.local_swarm import (
    TinyPKI,
    assert_nothing_left,
    cleaned,
    converge,
    deleted_after,
    make_spec,
)
from tests.support.node_storage import GIB, loops_under

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mkfs.ext4") is None or shutil.which("losetup") is None,
    reason="needs root, e2fsprogs and util-linux")


# -- the volume's parts ---------------------------------------------------------------------

@needs_root
def test_an_image_is_made_once_and_a_half_made_one_is_made_again(tmp_path: Path) -> None:
    volume = storage.Volume(image=str(tmp_path / storage.IMAGE), size_gib=1)
    Path(f"{volume.image}.tmp").write_bytes(b"a crash left this")
    storage.ensure(volume)
    assert os.path.getsize(volume.image) == GIB
    assert os.stat(volume.image).st_blocks * 512 < 64 << 20  # sparse
    assert not os.path.exists(f"{volume.image}.tmp")
    checked = subprocess.run(["e2fsck", "-n", volume.image], capture_output=True, text=True)
    assert checked.returncode == 0 and "clean" in checked.stdout, checked
    inode = os.stat(volume.image).st_ino
    storage.ensure(volume)
    assert os.stat(volume.image).st_ino == inode


@needs_root
def test_a_volume_mounted_by_a_lingering_node_is_not_mounted_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    volume = storage.Volume(image=str(tmp_path / storage.IMAGE), size_gib=1)
    storage.ensure(volume)
    (tmp_path / "mnt").mkdir()
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f'mount -o loop {volume.image} {tmp_path / "mnt"} && echo up && exec sleep 60'],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up"
        assert len(loops_under(tmp_path)) == 1
        monkeypatch.setattr(storage, "RELEASE_WAIT", 0.5)
        with pytest.raises(TemporaryError, match="is still in use by /dev/loop"):
            storage.ensure(volume)
    finally:
        holder.kill()
        holder.wait()
    monkeypatch.setattr(storage, "RELEASE_WAIT", 10.0)
    storage.ensure(volume)  # the namespace went: mount's autoclear detached the device
    assert loops_under(tmp_path) == []


@needs_root
def test_release_detaches_every_device_under_a_directory(tmp_path: Path) -> None:
    node = tmp_path / "node"
    node.mkdir()
    volume = storage.Volume(image=str(node / storage.IMAGE), size_gib=1)
    storage.ensure(volume)
    device = subprocess.run(["losetup", "--find", "--show", volume.image], capture_output=True,
                            text=True, check=True).stdout.strip()
    try:
        assert loops_under(node) == [device]
        os.unlink(volume.image)  # a crash between removing files and detaching
        storage.release(str(tmp_path))
        assert loops_under(node) == []
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True, check=False)


# -- a swarm-mode cluster through the API ---------------------------------------------------

_swarm_host = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dockerd") is None or shutil.which("docker") is None
    or shutil.which("mkfs.ext4") is None, reason="needs root, docker.io, e2fsprogs")


def swarm_needs(test: Any) -> Any:
    """A test that builds real local-swarm clusters (the ``docker`` marker)."""
    return pytest.mark.docker(_swarm_host(test))


def node_dir(driver: LocalSwarmDriver, cluster_uuid: str, name: str) -> str:
    return os.path.join(driver.root, cluster_uuid, name)


def in_node(driver: LocalSwarmDriver, cluster_uuid: str, name: str, *argv: str) -> str:
    """Run a command as the node's root sees the node: its mounts, its processes."""
    with open(os.path.join(node_dir(driver, cluster_uuid, name), engine.PID_FILE)) as handle:
        init = engine.children(int(handle.read()))[0]
    return subprocess.run(["nsenter", "-t", str(init), "--mount", "--pid", "--root", "--wd",
                           *argv], capture_output=True, text=True, check=True).stdout


def size_of_data_root(driver: LocalSwarmDriver, cluster_uuid: str, name: str,
                      path: str = "/var/lib/docker") -> int:
    out = in_node(driver, cluster_uuid, name, "df", "-B1", "--output=size,target", path)
    size, target = out.splitlines()[1].split()
    assert target == path  # a filesystem of its own, mounted there
    return int(size)


def node_docker(driver: LocalSwarmDriver, cluster_uuid: str, name: str,
                *args: str) -> subprocess.CompletedProcess[str]:
    """The stock docker CLI on the node's own socket (what an operator on the host has)."""
    with open(os.path.join(node_dir(driver, cluster_uuid, name), engine.PID_FILE)) as handle:
        pid = handle.read().strip()
    sockets = [path for path in glob.glob(f"{driver.nodes.run_dir(cluster_uuid)}/*/docker.pid")
               if Path(path).read_text().strip() == pid]
    socket = os.path.join(os.path.dirname(sockets[0]), "docker.sock")
    return subprocess.run(["docker", "-H", f"unix://{socket}", *args], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    shutil.copy(migrated_sqlite, tmp_path / "magna.db")
    return f"sqlite:///{tmp_path / 'magna.db'}"


@pytest.fixture
def swarm(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Stack, LocalSwarmDriver]]:
    conf = make_conf(tmp_path, sqlite_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST)
    with conductor_stack(conf, tmp_path) as stack:
        yield stack, LocalSwarmDriver(conf)


@swarm_needs
def test_a_swarm_clusters_nodes_have_disks_of_the_asked_size(
        swarm: tuple[Stack, LocalSwarmDriver]) -> None:
    stack, driver = swarm
    template = make_template(stack.api, docker_volume_size=1, docker_storage_driver="overlay2")
    created = stack.api.post("/v1/clusters", json={
        "name": "disks", "cluster_template_id": template["uuid"], "master_count": 1,
        "node_count": 1})
    assert created.status_code == 202, created.text
    uuid = created.json()["uuid"]
    with deleted_after(stack, driver, uuid):
        stack.wait_status(uuid, "CREATE_COMPLETE", timeout=180)
        for name in ("default-master-0", "default-worker-0"):
            assert 0.9 * GIB < size_of_data_root(driver, uuid, name) <= GIB
            info = node_docker(driver, uuid, name, "info", "--format",
                               "{{.Driver}} {{.DockerRootDir}}")
            driver_name, root = info.stdout.split()
            assert driver_name == "overlay2", info.stderr
            assert root.startswith("/var/lib/docker/")  # its remapped ids' directory
        _a_full_disk_fails_writes_and_the_engine_stays(driver, uuid, "default-worker-0")
        _a_restarted_engine_finds_its_filesystem_again(stack, driver, uuid, "default-worker-0")
        _a_nodegroup_gets_its_own_size(stack, driver, uuid)
        assert stack.api.delete(f"/v1/clusters/{uuid}").status_code == 204
        stack.wait_gone(uuid, timeout=120)
        assert_nothing_left(driver, uuid)
        assert loops_under(driver.root) == []
        assert not os.path.exists(node_dir(driver, uuid, "default-worker-0"))


def _a_full_disk_fails_writes_and_the_engine_stays(driver: LocalSwarmDriver, uuid: str,
                                                   name: str) -> None:
    filled = node_docker(driver, uuid, name, "run", "--name", "filler", image.NAME, "sh", "-c",
                         "dd if=/dev/zero of=/fill bs=1M count=1200")
    assert filled.returncode != 0
    assert "No space left on device" in filled.stderr + filled.stdout
    assert node_docker(driver, uuid, name, "rm", "-f", "filler").returncode == 0
    after = node_docker(driver, uuid, name, "run", "--rm", image.NAME, "echo", "still here")
    assert after.stdout.strip() == "still here", after.stderr


def _a_restarted_engine_finds_its_filesystem_again(stack: Stack, driver: LocalSwarmDriver,
                                                    uuid: str, name: str) -> None:
    made = node_docker(driver, uuid, name, "volume", "create", "kept")
    assert made.returncode == 0, made.stderr
    with open(os.path.join(node_dir(driver, uuid, name), engine.PID_FILE)) as handle:
        old = int(handle.read())
    os.kill(old, signal.SIGKILL)  # the node ends; the conductor's healing starts it again
    wait_for(lambda: _answers_again(driver, uuid, name, old), 120, f"{name} to be restarted")
    volumes = node_docker(driver, uuid, name, "volume", "ls", "--format", "{{.Name}}")
    assert "kept" in volumes.stdout.split(), volumes.stderr
    assert 0.9 * GIB < size_of_data_root(driver, uuid, name) <= GIB
    assert len(loops_under(os.path.join(driver.root, uuid))) == 2  # one per node, no more
    stack.wait_status(uuid, "CREATE_COMPLETE")


def _answers_again(driver: LocalSwarmDriver, uuid: str, name: str, old: int) -> bool:
    try:
        with open(os.path.join(node_dir(driver, uuid, name), engine.PID_FILE)) as handle:
            pid = int(handle.read())
    except (FileNotFoundError, ValueError):
        return False
    return pid != old and node_docker(driver, uuid, name, "version").returncode == 0


def _a_nodegroup_gets_its_own_size(stack: Stack, driver: LocalSwarmDriver, uuid: str) -> None:
    url = f"/v1/clusters/{uuid}/nodegroups"
    made = stack.api.post(url, json={"name": "big", "node_count": 1, "docker_volume_size": 2})
    assert made.status_code == 202, made.text
    wait_for(lambda: stack.api.get(f"{url}/big").json()["status"] == "CREATE_COMPLETE", 180,
             "the nodegroup big")
    assert 1.9 * GIB < size_of_data_root(driver, uuid, "big-0") <= 2 * GIB
    assert size_of_data_root(driver, uuid, "default-master-0") <= GIB


@swarm_needs
def test_vfs_is_the_storage_driver_when_asked(tmp_path: Path) -> None:
    """vfs needs nothing of the kernel (each layer a full copy): it runs in a node, on the
    node's own disk too."""
    driver = LocalSwarmDriver(make_conf(tmp_path / "state"))
    master = NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=1,
                           flavor_id="m1.small", image_id=None, docker_volume_size=1)
    spec = make_spec(nodegroups=(master,), docker_storage_driver="vfs", docker_volume_size=1)
    with cleaned(driver, spec.uuid):
        converge(driver, spec, TinyPKI())
        name = "default-master-0"
        info = node_docker(driver, spec.uuid, name, "info", "--format", "{{.Driver}}")
        assert info.stdout.strip() == "vfs", info.stderr
        ran = node_docker(driver, spec.uuid, name, "run", "--rm", image.NAME, "sh", "-c",
                          "echo written > /x && cat /x")
        assert ran.stdout.strip() == "written", ran.stderr
        assert 0.9 * GIB < size_of_data_root(driver, spec.uuid, name) <= GIB


def wipe(path: Path) -> None:
    """Remove `path` as an operator's repeated `rm -rf` would. The node is still running and
    may make a file under its root between `rmtree` listing a directory and removing it (CI saw
    "Directory not empty: 'var'" once, under load). A removed directory takes nothing new, so
    the passes shrink what is left until the node's root itself is gone."""
    for _ in range(50):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} is still there after 50 passes of rm -rf")


@swarm_needs
def test_a_vanished_state_dir_leaves_no_loop_device_behind(tmp_path: Path) -> None:
    """A state dir wiped under running nodes (their images deleted while mounted) is collected
    by another conductor: its loop devices, attached to deleted files, go with it."""
    first = LocalSwarmDriver(make_conf(tmp_path / "first"))
    other = LocalSwarmDriver(make_conf(tmp_path / "other"))
    master = NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=1,
                           flavor_id="m1.small", image_id=None, docker_volume_size=1)
    spec = make_spec(nodegroups=(master,), docker_volume_size=1)
    with cleaned(first, spec.uuid):
        converge(first, spec, TinyPKI())
        assert len(loops_under(tmp_path / "first")) == 1
        # NOTE: the images first, while every mount is still in place, so the loop device is
        # surely attached to a deleted file; removing the rest may unmount the node's data root
        # (a directory removed on the host takes the mounts on it in other namespaces) and,
        # when the engine then lets go of it, the loop device with it
        images = glob.glob(f"{tmp_path / 'first'}/**/{storage.IMAGE}", recursive=True)
        assert len(images) == 1
        os.unlink(images[0])
        listed = subprocess.run(["losetup", "--list", "--output", "BACK-FILE"],
                                capture_output=True, text=True, check=True).stdout
        assert f"{images[0]} (deleted)" in listed
        wipe(tmp_path / "first")
        assert spec.uuid in other.leftovers(set())
        other.collect(spec.uuid)
        assert loops_under(tmp_path / "first") == []
        assert_nothing_left(first, spec.uuid)


# -- refusals through the API ---------------------------------------------------------------

def count_templates(api: ApiClient) -> int:
    return len(api.get("/v1/clustertemplates").json()["clustertemplates"])


@pytest.mark.parametrize(("coe", "image_id"), [("swarm-mode", "debian-12-docker"),
                                               ("kubernetes", "fedora-coreos-latest")])
def test_storage_drivers_the_engines_lack_are_refused(api: ApiClient, coe: str,
                                                      image_id: str) -> None:
    response = api.post("/v1/clustertemplates", json={
        "name": "t", "coe": coe, "image_id": image_id, "external_network_id": "public",
        "docker_storage_driver": "devicemapper", "docker_volume_size": 5})
    error = assert_error(response, 400, "docker_storage_driver devicemapper is not available")
    assert "offer overlay2 and vfs" in error["detail"]
    assert count_templates(api) == 0


@pytest.mark.parametrize(("coe", "image_id", "volume_driver", "instead"), [
    ("swarm-mode", "debian-12-docker", "rexray", "docker volume create"),
    ("kubernetes", "fedora-coreos-latest", "cinder", "use emptyDir volumes")])
def test_volume_drivers_are_refused_with_what_to_use_instead(
        api: ApiClient, coe: str, image_id: str, volume_driver: str, instead: str) -> None:
    response = api.post("/v1/clustertemplates", json={
        "name": "t", "coe": coe, "image_id": image_id, "external_network_id": "public",
        "volume_driver": volume_driver})
    error = assert_error(response, 400, f"volume_driver {volume_driver} is not available")
    assert instead in error["detail"] and "block storage" in error["detail"]
    assert count_templates(api) == 0


def test_accepted_storage_settings_round_trip(api: ApiClient) -> None:
    for driver in ("overlay2", "vfs"):
        body = make_template(api, name=driver, docker_storage_driver=driver,
                             docker_volume_size=3)
        shown = api.get(f"/v1/clustertemplates/{body['uuid']}").json()
        assert (shown["docker_storage_driver"], shown["docker_volume_size"]) == (driver, 3)
        assert shown["volume_driver"] is None


def test_a_nodegroup_larger_than_the_host_is_refused(api: ApiClient) -> None:
    template = make_template(api)
    created = api.post("/v1/clusters", json={"name": "c", "cluster_template_id":
                                             template["uuid"], "master_count": 1,
                                             "node_count": 1})
    assert created.status_code == 202, created.text
    url = f"/v1/clusters/{created.json()['uuid']}/nodegroups"
    response = api.post(url, json={"name": "huge", "node_count": 1,
                                   "docker_volume_size": 1 << 30})
    assert_error(response, 400, f"docker_volume_size {1 << 30} is more than the")
    assert "huge" not in [ng["name"] for ng in api.get(url).json()["nodegroups"]]
