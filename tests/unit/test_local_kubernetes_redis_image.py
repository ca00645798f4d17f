"""The Redis image's pure parts: which libraries ``ldd`` names, and a host without Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from magna.drivers.local_kubernetes import redis_image

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd3a5f2000)
\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f75d8687000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f75d84a5000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f75d8b20000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f75d8eb8000)
"""


def test_the_libraries_are_every_path_ldd_names_and_the_loader() -> None:
    assert redis_image.library_paths(LDD) == [
        "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/x86_64-linux-gnu/libssl.so.3", "/lib64/ld-linux-x86-64.so.2"]


class RecordingEngine:
    """An engine API that has no image and records what it is asked to import."""

    def __init__(self) -> None:
        self.imports: list[str] = []

    def inspect_image(self, name: str) -> None:
        raise AssertionError(f"asked for {name} although there is nothing to import")

    def import_image_from_data(self, data: bytes, **kwargs: object) -> None:
        self.imports.append(str(kwargs["repository"]))


def test_a_host_without_redis_prepares_nodes_without_the_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = RecordingEngine()
    assert redis_image.ensure(engine) is False  # type: ignore[arg-type]
    assert engine.imports == []
    assert "redis-cli is not installed" in caplog.text
    with pytest.raises(redis_image.RedisMissing, match="redis-tools"):
        redis_image.rootfs_tar()
