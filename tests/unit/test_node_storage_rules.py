"""The pure parts of a node's storage: what ``storage.check`` refuses and says, the volume's
``seal.sh`` item, and what the engine's daemon.json and hash get from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from magna.common.exceptions import PermanentError
from magna.domain import coe
from magna.drivers.base import Settings
from magna.drivers.local_nodes import engine, storage


def _check(tmp_path: Path, **fields: object) -> None:
    storage.check(Settings(**fields), kind="local Swarm",  # type: ignore[arg-type]
                  root=str(tmp_path / "not" / "made" / "yet"))


@pytest.mark.parametrize("driver", ["devicemapper", "overlay", "btrfs", "zfs", "aufs", "x"])
def test_storage_drivers_the_engines_do_not_offer_are_refused(tmp_path: Path,
                                                              driver: str) -> None:
    with pytest.raises(PermanentError) as caught:
        _check(tmp_path, docker_storage_driver=driver)
    assert caught.value.message == (
        f"docker_storage_driver {driver} is not available on the local Swarm driver; its "
        "engines offer overlay2 and vfs (overlay2 when unset).")


@pytest.mark.parametrize("driver", [None, "overlay2", "vfs"])
def test_offered_storage_drivers_pass(tmp_path: Path, driver: str | None) -> None:
    _check(tmp_path, docker_storage_driver=driver, docker_volume_size=1)


def test_every_volume_driver_magnum_knows_is_refused_with_what_to_use_instead(
        tmp_path: Path) -> None:
    known = {name for rules in coe.RULES.values() for name in rules.volume_drivers}
    assert set(storage.VOLUME_ALTERNATIVES) == known
    with pytest.raises(PermanentError) as caught:
        _check(tmp_path, volume_driver="cinder")
    assert "volume_driver cinder is not available on the local Swarm driver" in \
        caught.value.message
    assert "use emptyDir volumes" in caught.value.message
    with pytest.raises(PermanentError) as caught:
        _check(tmp_path, volume_driver="rexray")
    assert "docker volume create" in caught.value.message


def test_a_volume_larger_than_the_hosts_filesystem_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as caught:
        _check(tmp_path, docker_volume_size=1 << 30)
    assert caught.value.message.startswith(f"docker_volume_size {1 << 30} is more than the ")


def test_the_volume_and_its_seal_item() -> None:
    assert storage.volume_of("/s/c/n", None) is None
    volume = storage.volume_of("/s/c/n", 3, ("/var/lib/kubelet",))
    assert volume == storage.Volume(image="/s/c/n/docker-volume.img", size_gib=3,
                                    paths=("/var/lib/docker", "/var/lib/kubelet"))
    assert volume.seal_item() == "vol:/var/lib/docker,/var/lib/kubelet:/s/c/n/docker-volume.img"


def test_a_node_made_before_disks_keeps_its_data_root(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "root/var/lib/docker/image").mkdir(parents=True)
    (new / "root/var/lib/docker").mkdir(parents=True)
    assert storage.volume_of(str(old), 1) is None
    assert storage.volume_of(str(new), 1) == storage.Volume(
        image=str(new / "docker-volume.img"), size_gib=1)
    (old / "docker-volume.img").write_bytes(b"")  # a node with a disk keeps it
    assert storage.volume_of(str(old), 1) is not None


def _spec(**overrides: object) -> engine.EngineSpec:
    fields: dict[str, object] = dict(
        node_dir="/s/c/n", run_dir="/run/magna/c/1", hostname="c-m-0", netns="magna-c-m-0",
        address="10.9.0.2", cgroup_parent="/magna/c/m-0")
    fields.update(overrides)
    return engine.EngineSpec(**fields)  # type: ignore[arg-type]


def test_daemon_json_names_the_storage_driver_and_the_hash_follows_the_volume() -> None:
    assert _spec().build()["storage-driver"] == "overlay2"
    assert _spec(storage_driver="vfs").build()["storage-driver"] == "vfs"
    plain = engine.desired_hash(_spec(), "")
    one = engine.desired_hash(_spec(volume=storage.volume_of("/s/c/n", 1)), "")
    two = engine.desired_hash(_spec(volume=storage.volume_of("/s/c/n", 2)), "")
    assert len({plain, one, two}) == 3
