"""The Kubernetes binary cache and its one build, with a stand-in for build.sh.

The stand-in keeps build.sh's contract (lock on fd 9 or taken itself, progress file, log, BUILT
written last) and waits at a gate the test holds open, so "while it runs" is a state the test
controls rather than a race. It also records each start and its session, so a test can count
builds and see that they are detached.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from magna.common.exceptions import Invalid, PermanentError, TemporaryError
from magna.drivers.local_kubernetes import binaries
from magna.drivers.local_kubernetes.binaries import Binaries, version_of
from tests.support.conductor import wait_for

STAND_IN = """#!/usr/bin/env bash
set -euo pipefail
CACHE=$1 VERSION=$2
echo "$$" >>{launched}
mkdir -p "$CACHE"
[ "${{MAGNA_BUILD_LOCK_HELD:-}}" = 9 ] || exec 9>"$CACHE/build.lock"
flock 9
[ -f "$CACHE/$VERSION/BUILT" ] && exit 0
echo "$$ $(ps -o sid= $$)" >>{starts}
exec >"$CACHE/$VERSION.log" 2>&1
echo "compiling, gate {gate}"
printf '1/2 compiling everything\\n' >"$CACHE/$VERSION.progress"
while [ -e {gate} ]; do sleep 0.02; done
if [ -e {fail} ]; then
    echo "the compiler gave up"
    printf 'failed at line 7\\n' >"$CACHE/$VERSION.progress"
    exit 1
fi
mkdir -p "$CACHE/$VERSION/bin"
echo built >"$CACHE/$VERSION/BUILT"
printf 'done\\n' >"$CACHE/$VERSION.progress"
"""


@dataclass
class Bench:
    """A cache dir, the stand-in build script and its gate, fail switch and start record."""

    root: Path

    @property
    def cache(self) -> str:
        return str(self.root / "cache")

    @property
    def gate(self) -> Path:
        return self.root / "gate"

    @property
    def fail(self) -> Path:
        return self.root / "fail"

    @property
    def starts(self) -> Path:
        return self.root / "starts"

    @property
    def launched(self) -> Path:
        return self.root / "launched"

    def launches(self) -> int:
        return len(self.launched.read_text().splitlines()) if self.launched.exists() else 0

    def binaries(self, retry_after: float = 3600) -> Binaries:
        return Binaries(self.cache, build_script=str(self.root / "build.sh"),
                        retry_after=retry_after)

    def started(self) -> list[tuple[int, int]]:
        if not self.starts.exists():
            return []
        return [(int(pid), int(sid)) for pid, sid in
                (line.split() for line in self.starts.read_text().splitlines())]

    def wait_running(self, cache: Binaries, builds: int = 1) -> None:
        """Until build number ``builds`` waits at the gate."""
        wait_for(lambda: len(self.started()) == builds
                 and cache.progress("1.20.2") == "1/2 compiling everything"
                 and cache.building(), 20, f"stand-in build {builds} to reach its gate")

    def wait_finished(self, cache: Binaries) -> None:
        wait_for(lambda: not cache.building(), 20, "the stand-in build to end")


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    bench = Bench(tmp_path)
    (tmp_path / "build.sh").write_text(STAND_IN.format(gate=bench.gate, fail=bench.fail,
                                                       starts=bench.starts,
                                                       launched=bench.launched))
    bench.gate.touch()
    yield bench
    bench.gate.unlink(missing_ok=True)  # let a build still waiting end
    wait_for(lambda: not bench.binaries().building(), 20, "the stand-in build to end")


@pytest.mark.parametrize("tag", ["v1.20.2", "1.20.2"])
def test_version_of_accepts_the_supported_version_with_or_without_v(tag: str) -> None:
    assert version_of(tag, "v9.9.9") == "1.20.2"


@pytest.mark.parametrize("tag", [None, ""])
def test_version_of_without_a_tag_is_the_default(tag: str | None) -> None:
    assert version_of(tag, "v1.20.2") == "1.20.2"


@pytest.mark.parametrize("tag", ["v1.29.0", "latest", "v1.20.2; rm -rf /", "../1.20.2"])
def test_version_of_refuses_what_cannot_be_built_naming_label_value_and_choices(
        tag: str) -> None:
    with pytest.raises(Invalid) as caught:
        version_of(tag, "v1.20.2")
    assert caught.value.status == 400
    assert "kube_tag" in caught.value.message
    assert tag in caught.value.message
    assert "available: v1.20.2" in caught.value.message


def test_a_bad_default_is_refused_like_a_bad_label() -> None:
    with pytest.raises(Invalid, match=r"v1\.19\.0"):
        version_of(None, "v1.19.0")


def test_supported_is_what_debian_12_builds() -> None:
    assert binaries.SUPPORTED == ("1.20.2",)


def test_an_empty_or_missing_cache_has_nothing(bench: Bench) -> None:
    cache = bench.binaries()
    assert cache.installed() == []
    assert cache.progress("1.20.2") is None
    assert not cache.building()
    assert cache.bin_dir("1.20.2") == os.path.join(bench.cache, "1.20.2", "bin")


def test_require_starts_the_build_and_says_so_then_reports_its_step(bench: Bench) -> None:
    cache = bench.binaries()
    with pytest.raises(TemporaryError) as first:
        cache.require("1.20.2")
    assert first.value.message.startswith("Kubernetes 1.20.2 is being built on this host")
    assert first.value.delay >= 5
    bench.wait_running(cache)
    with pytest.raises(TemporaryError) as later:
        cache.require("1.20.2")
    assert "(step 1/2: compiling everything)" in later.value.message
    assert cache.installed() == []
    assert len(bench.started()) == 1


def test_require_gives_the_bin_dir_once_built(bench: Bench) -> None:
    cache = bench.binaries()
    assert cache.start_build("1.20.2")
    bench.gate.unlink()
    bench.wait_finished(cache)
    assert cache.require("1.20.2") == os.path.join(bench.cache, "1.20.2", "bin")
    assert cache.installed() == ["1.20.2"]
    assert cache.progress("1.20.2") == "done"
    assert not cache.start_build("1.20.2")
    assert len(bench.started()) == 1


def test_the_cache_is_created_0755(bench: Bench) -> None:
    bench.binaries().start_build("1.20.2")
    info = os.stat(bench.cache)
    assert oct(info.st_mode & 0o777) == oct(0o755)
    assert info.st_uid == os.geteuid()


def test_a_cache_others_may_write_is_refused(bench: Bench) -> None:
    os.makedirs(bench.cache)
    os.chmod(bench.cache, 0o777)
    with pytest.raises(PermanentError, match="writable by it alone"):
        bench.binaries().start_build("1.20.2")
    assert bench.started() == []


def test_two_starts_make_one_build(bench: Bench) -> None:
    cache = bench.binaries()
    assert cache.start_build("1.20.2") is True
    assert cache.start_build("1.20.2") is False
    bench.wait_running(cache)
    assert bench.binaries().start_build("1.20.2") is False
    bench.gate.unlink()
    bench.wait_finished(cache)
    assert len(bench.started()) == 1
    assert bench.launches() == 1


def test_concurrent_starts_make_one_build(bench: Bench) -> None:
    cache = bench.binaries()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(cache.start_build("1.20.2")))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    bench.wait_running(cache)
    assert bench.launches() == 1


def test_the_build_is_detached_in_its_own_session_and_leaves_no_zombie(bench: Bench) -> None:
    cache = bench.binaries()
    cache.start_build("1.20.2")
    bench.wait_running(cache)
    [(pid, sid)] = bench.started()
    assert sid != os.getsid(0)
    assert _parent_of(pid) != os.getpid()
    bench.gate.unlink()
    bench.wait_finished(cache)
    assert _zombie_children() == []


def test_a_recent_failure_is_permanent_with_the_log_path_and_its_last_lines(
        bench: Bench) -> None:
    cache = bench.binaries(retry_after=3600)
    bench.fail.touch()
    cache.start_build("1.20.2")
    bench.gate.unlink()
    bench.wait_finished(cache)
    with pytest.raises(PermanentError) as caught:
        cache.require("1.20.2")
    message = caught.value.message
    assert "failed at line 7" in message
    assert os.path.join(bench.cache, "1.20.2.log") in message
    assert "the compiler gave up" in message
    assert len(bench.started()) == 1


def test_an_older_failure_starts_a_new_build(bench: Bench) -> None:
    cache = bench.binaries(retry_after=0)
    bench.fail.touch()
    cache.start_build("1.20.2")
    bench.gate.unlink()
    bench.wait_finished(cache)
    assert cache.progress("1.20.2") == "failed at line 7"
    bench.fail.unlink()
    bench.gate.touch()
    with pytest.raises(TemporaryError) as caught:
        cache.require("1.20.2")
    assert "(starting)" in caught.value.message  # not the previous build's failure
    bench.wait_running(cache, builds=2)
    bench.gate.unlink()
    bench.wait_finished(cache)
    assert cache.require("1.20.2").endswith("/1.20.2/bin")
    assert len(bench.started()) == 2


def test_an_interrupted_build_is_started_again(bench: Bench) -> None:
    cache = bench.binaries()
    os.makedirs(bench.cache)
    Path(bench.cache, "1.20.2.progress").write_text("1/2 compiling everything\n")
    with pytest.raises(TemporaryError):
        cache.require("1.20.2")
    bench.wait_running(cache)
    assert len(bench.started()) == 1


@pytest.mark.parametrize("version", ["../etc", "1.20.2\n", "1.20.2/../../x", ""])
def test_a_version_that_is_no_version_touches_no_path(bench: Bench, version: str) -> None:
    with pytest.raises(Invalid):
        bench.binaries().bin_dir(version)
    with pytest.raises(Invalid):
        bench.binaries().start_build(version)
    assert not os.path.exists(bench.cache)


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _zombie_children() -> list[int]:
    zombies = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(entry))
    return zombies


def test_build_on_start_starts_the_default_version_once(bench: Bench) -> None:
    options = SimpleNamespace(cache_dir=bench.cache, build_retry_after=600,
                              default_kube_tag="v1.20.2", build_on_start=True)
    script = str(bench.root / "build.sh")
    assert binaries.build_on_start(options, build_script=script) is True
    assert binaries.build_on_start(options, build_script=script) is False
    switched_off = SimpleNamespace(**{**vars(options), "build_on_start": False})
    assert binaries.build_on_start(switched_off, build_script=script) is False
    bench.wait_running(bench.binaries())
    assert bench.launches() == 1
