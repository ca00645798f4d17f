"""User stories for ``magna kubernetes-build`` on a cache of the test's own.

The test plays the build that runs: it holds ``build.lock`` and writes the progress file, the
log and ``BUILT`` as build.sh does, so the command's joining, following, success and failure
are what the test makes them, with no compiler involved. The command runs as the real program
(``python -m magna``) in a process of its own.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from magna.cmd.kubernetes_build import own_version_option

TIMEOUT = 30
Command = Callable[..., subprocess.Popen[str]]


@dataclass
class PlayedBuild:
    """A build of 1.20.2 into ``cache``, as seen from outside: lock, progress, log, BUILT."""

    cache: Path

    def progress(self, text: str) -> None:
        (self.cache / "1.20.2.progress").write_text(text + "\n")

    def log(self, *lines: str) -> None:
        (self.cache / "1.20.2.log").write_text("".join(line + "\n" for line in lines))

    def install(self) -> None:
        bin_dir = self.cache / "1.20.2" / "bin"
        bin_dir.mkdir(parents=True)
        (self.cache / "1.20.2" / "BUILT").write_text("version: 1.20.2\n")
        self.progress("done")


@contextmanager
def build_running(cache: Path) -> Iterator[PlayedBuild]:
    cache.mkdir(mode=0o755, exist_ok=True)
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield PlayedBuild(cache)


@contextmanager
def _watchdog(process: subprocess.Popen[str]) -> Iterator[None]:
    """Kill the command if it outlives TIMEOUT, so a line it never prints fails the test
    instead of blocking ``readline`` for ever."""
    timer = threading.Timer(TIMEOUT, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.fixture
def command() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    with ExitStack() as stack:
        def start(*args: str) -> subprocess.Popen[str]:
            process = subprocess.Popen(
                [sys.executable, "-u", "-m", "magna", "kubernetes-build", *args],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            stack.enter_context(_watchdog(process))
            return process
        yield start


def next_line(stream: IO[str] | None) -> str:
    assert stream is not None
    return stream.readline().rstrip("\n")


def test_it_joins_a_running_build_prints_each_step_and_exits_0_when_built(
        tmp_path: Path, command: Command) -> None:
    cache = tmp_path / "cache"
    with build_running(cache) as build:
        build.progress("4/7 compiling everything")
        process = command("--cache-dir", str(cache), "--version", "1.20.2")
        try:
            assert next_line(process.stdout) == (
                f"Kubernetes 1.20.2: joining the build that runs (log: {cache}/1.20.2.log)")
            assert next_line(process.stdout) == "Kubernetes 1.20.2: step 4/7: compiling everything"
            build.progress("6/7 checking the binaries")
            assert next_line(process.stdout) == "Kubernetes 1.20.2: step 6/7: checking the binaries"
            build.install()
        except BaseException:
            process.kill()
            raise
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert f"Kubernetes 1.20.2 is built: {cache}/1.20.2/bin" in out


def test_a_failed_build_exits_1_with_the_reason_and_the_logs_last_lines(
        tmp_path: Path, command: Command) -> None:
    cache = tmp_path / "cache"
    with build_running(cache) as build:
        build.progress("4/7 compiling everything")
        process = command("--cache-dir", str(cache))
        try:
            assert "joining" in next_line(process.stdout)
            assert "step 4/7" in next_line(process.stdout)
            build.log("== step 4/7: compiling", "undefined: reflect2.Type", "make: *** Error 2")
            build.progress("failed at line 97 (see the log)")
        except BaseException:
            process.kill()
            raise
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, (out, err)
    assert "failed at line 97" in err
    assert f"{cache}/1.20.2.log" in err
    assert "undefined: reflect2.Type\nmake: *** Error 2" in err
    assert "Traceback" not in err


def test_background_returns_at_once_while_a_build_runs(
        tmp_path: Path, command: Command) -> None:
    cache = tmp_path / "cache"
    with build_running(cache) as build:
        build.progress("2/7 fetching")
        process = command("--cache-dir", str(cache), "--background")
        out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert out == f"Kubernetes 1.20.2: joining the build that runs (log: {cache}/1.20.2.log)\n"


def test_a_built_version_is_reported_and_nothing_starts(
        tmp_path: Path, command: Command) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    PlayedBuild(cache).install()
    process = command("--cache-dir", str(cache))
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert out == f"Kubernetes 1.20.2 is built: {cache}/1.20.2/bin\n"
    assert not (cache / "1.20.2.log").exists()


@pytest.mark.parametrize("version", ["1.29.0", "v1.20", "latest"])
def test_a_version_this_host_cannot_build_is_refused_with_what_is_available(
        tmp_path: Path, command: Command, version: str) -> None:
    process = command("--cache-dir", str(tmp_path / "cache"), "--version", version)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 2
    assert out == ""
    assert "available: v1.20.2" in err and version in err
    assert not os.path.exists(tmp_path / "cache")


def test_only_the_commands_own_version_option_is_renamed() -> None:
    assert own_version_option(["--version"]) == ["--version"]
    assert own_version_option(["--config-file", "c", "kubernetes-build", "--version", "1",
                               "--version=2"]) == [
        "--config-file", "c", "kubernetes-build", "--kube-version", "1", "--kube-version=2"]
    assert own_version_option(["cluster", "list", "--version"]) == [
        "cluster", "list", "--version"]
