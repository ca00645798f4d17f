"""The pure parts of a sealed node: its daemon.json, its generated /etc, its id range, the cgroup
hierarchies it mounts and the memory its workloads get (the real thing: functional/
test_sealed_nodes.py)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from magna.drivers.local_nodes import engine, limits, rootfs


def _spec(tmp_path: Path, **overrides: object) -> engine.EngineSpec:
    fields: dict[str, object] = dict(
        node_dir=str(tmp_path / "n"), run_dir=str(tmp_path / "run" / "1"), hostname="c-m-0",
        netns="magna-abcd1234-m-0", address="10.9.0.2", cgroup_parent="/magna/abcd1234/m-0",
        id_base=rootfs.id_base(ipaddress.IPv4Network("10.9.0.0/24")))
    fields.update(overrides)
    return engine.EngineSpec(**fields)  # type: ignore[arg-type]


def test_the_engine_reads_only_paths_of_its_own_root(tmp_path: Path) -> None:
    config = _spec(tmp_path).build()
    assert config["userns-remap"] == "dockremap" and config["oom-score-adjust"] == 0
    assert "cgroup-parent" not in config and "authorization-plugins" not in config
    paths = [config["data-root"], config["exec-root"], config["pidfile"], config["tlscacert"],
             config["tlscert"], config["tlskey"], *config["hosts"][:1]]
    assert not [path for path in paths if str(tmp_path) in path]
    assert config["hosts"] == ["unix:///run/docker.sock", "tcp://10.9.0.2:2375"]
    with_plugin = _spec(tmp_path, authz_root="/run/magna/seal").build()
    assert with_plugin["authorization-plugins"] == [engine.AUTHZ_PLUGIN]


def test_every_cluster_subnet_has_its_own_id_range() -> None:
    pool = list(ipaddress.IPv4Network("10.231.0.0/16").subnets(new_prefix=24))
    bases = [rootfs.id_base(subnet) for subnet in pool]
    assert len(set(bases)) == len(pool)
    assert min(bases) >= rootfs.ID_BASE and max(bases) + rootfs.ID_RANGE < 2 ** 31
    assert all(abs(a - b) >= rootfs.ID_RANGE for a, b in zip(sorted(bases), sorted(bases)[1:],
                                                                strict=False))
    other_pool = ipaddress.IPv4Network("10.200.7.0/26")  # another state dir, another prefix
    assert rootfs.id_base(other_pool) not in bases


def test_the_id_range_enters_the_hash(tmp_path: Path) -> None:
    one = _spec(tmp_path)
    other = _spec(tmp_path, id_base=one.id_base + rootfs.ID_RANGE)
    assert engine.desired_hash(one, "c") != engine.desired_hash(other, "c")


def test_the_nodes_etc_maps_dockremap_to_the_range_and_names_the_node(tmp_path: Path) -> None:
    files = rootfs.etc_files(hostname="c-m-0", address="10.9.0.2", first_id=1 << 20,
                             dns=("10.9.8.7",))
    assert files["etc/subuid"] == files["etc/subgid"] == f"dockremap:{1 << 20}:65536\n"
    assert "dockremap:x:999:999:" in files["etc/passwd"]
    assert files["etc/hosts"].splitlines()[1] == "10.9.0.2\tc-m-0"
    assert files["etc/resolv.conf"] == "nameserver 10.9.8.7\n"
    root = tmp_path / "root"
    rootfs.prepare(str(root), files)
    rootfs.prepare(str(root), files)  # idempotent
    assert (root / "etc/subuid").read_text() == files["etc/subuid"]
    assert (root / "var/lib/docker").is_dir() and (root / "tmp").stat().st_mode & 0o1777 == 0o1777
    assert not (root / "etc/shadow").exists()


def test_write_config_puts_config_certificates_and_plugin_spec_in_the_root(
        tmp_path: Path) -> None:
    spec = _spec(tmp_path, authz_root=str(tmp_path / "seal"))  # NOTE: never the host's
    Path(spec.node_dir).mkdir()
    for name in ("ca.pem", "server-cert.pem", "server-key.pem"):
        (Path(spec.node_dir) / name).write_text(name)
    engine.write_config(spec)
    assert json.loads(Path(spec.config_path).read_text()) == spec.build()
    tls = Path(spec.root, "etc/docker/tls")
    assert (tls / "key.pem").read_text() == "server-key.pem"
    assert (tls / "key.pem").stat().st_mode & 0o777 == 0o600
    plugin = Path(spec.root, "etc/docker/plugins/magna-seal.spec")
    assert plugin.read_text() == "unix:///run/magna-seal/authz.sock\n"
    # the seal plugin is asked for the node's socket now, so it listens by the engine's start
    assert (tmp_path / "seal" / "magna-abcd1234-m-0").is_dir()
    engine.write_config(_spec(tmp_path))
    assert not plugin.exists()


def test_hierarchies_are_read_from_mountinfo(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
        "50 23 0:40 / /mnt/elsewhere rw - cgroup cgroup rw,memory\n")
    assert limits.hierarchies(str(mountinfo)) == [
        limits.Hierarchy("cpu,cpuacct", "cgroup", "cpu,cpuacct"),
        limits.Hierarchy("systemd", "cgroup", "none,name=systemd"),
        limits.Hierarchy("unified", "cgroup2", "")]


def test_workloads_get_the_flavor_minus_the_engine_reserve() -> None:
    mib = limits.MIB
    assert limits.workloads_memory(limits.Limits(100000, 512 * mib)) == 384 * mib
    assert limits.workloads_memory(limits.Limits(100000, 4096 * mib)) == 3968 * mib
    assert limits.workloads_memory(limits.Limits(100000, 256 * mib)) == 192 * mib
    assert limits.workloads_memory(limits.Limits(-1, limits.UNLIMITED)) == limits.UNLIMITED


def test_proxies_exempt_the_cluster_once_and_only_when_there_is_a_proxy() -> None:
    asked = [("HTTP_PROXY", "http://p:3128"), ("NO_PROXY", "example.org,localhost")]
    once = rootfs.exempt_cluster(asked, "10.231.5.0/24")
    assert dict(once)["NO_PROXY"] == "example.org,localhost,127.0.0.1,10.231.5.0/24"
    assert rootfs.exempt_cluster(once, "10.231.5.0/24") == once
    assert rootfs.exempt_cluster([("NO_PROXY", "x")], "10.231.5.0/24") == [("NO_PROXY", "x")]
