"""Kubernetes binaries, built on this host on first need and kept in a host-wide cache.

No registry this machine kind reaches ships Kubernetes server binaries, so ``build.sh`` builds
them from Debian's ``kubernetes`` source package (about 13 minutes on 2 cores the first time).
The cache outlives checkouts and processes and is shared by every conductor, the
``magna kubernetes-build`` command and the tests::

    <cache>/<version>/bin/       the binaries, once built (appears atomically)
    <cache>/<version>/BUILT      written last: its presence means "built"
    <cache>/<version>.progress   "4/7 compiling ...", "done" or "failed <why>"
    <cache>/<version>.log        everything the build printed
    <cache>/build.lock           flock held by the one build that runs on the host

A Kubernetes cluster asked for before the binaries exist does not fail: ``require`` starts the
build and raises ``TemporaryError`` whose message carries the build's step, so the cluster waits
in ``CREATE_IN_PROGRESS`` with the progress as its status reason. Nothing here waits for the
build; the conductor's requeue does. Swarm-mode never reaches this module.

A build runs detached from whoever started it (its own session, no pipes, not our child once
started), so a conductor may exit or restart while it runs, and a long-lived conductor collects
no zombies. ``start_build`` takes ``build.lock`` itself and hands the held lock to ``build.sh``
on file descriptor 9 (``MAGNA_BUILD_LOCK_HELD=9``): there is no moment between "no build runs"
and "this build runs" in which a second caller could start another.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from magna.common.exceptions import Invalid, PermanentError, TemporaryError

SUPPORTED = ("1.20.2",)
"""Versions this host can build: what Debian 12's ``kubernetes`` source package holds."""

BUILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build.sh")
REQUEUE_DELAY = 10.0
LOG_TAIL_LINES = 8
_VERSION = re.compile(r"\d+\.\d+\.\d+")
# NOTE: the launcher is a shell that moves the held lock to fd 9, starts the build in the
# background and exits at once: we reap the shell, the build is reparented to init.
_LAUNCHER = ('exec 9>&{fd} {fd}>&-; MAGNA_BUILD_LOCK_HELD=9 bash "$0" "$@" '
             '</dev/null >/dev/null 2>&1 &')


def version_of(kube_tag: str | None, default: str) -> str:
    """The Kubernetes version a ``kube_tag`` label asks for ("v1.20.2" or "1.20.2").

    No tag means ``default`` (itself a tag); a version this host cannot build is ``Invalid``
    (400) naming what is available.
    """
    tag = kube_tag or default
    version = tag.removeprefix("v")
    if version not in SUPPORTED:
        available = ", ".join(f"v{v}" for v in SUPPORTED)
        raise Invalid(f"Label kube_tag={tag} names a Kubernetes version that is not available "
                      f"here; available: {available}.")
    return version


def from_options(options: Any, *, build_script: str = BUILD_SCRIPT) -> Binaries:
    """The cache the ``[local_kubernetes]`` options describe."""
    return Binaries(options.cache_dir, build_script=build_script,
                    retry_after=options.build_retry_after)


def build_on_start(options: Any, *, build_script: str = BUILD_SCRIPT) -> bool:
    """What a conductor starting on this host does for ``[local_kubernetes] build_on_start``:
    start building the default version unless it is built or a build runs; True if started."""
    if not options.build_on_start:
        return False
    cache = from_options(options, build_script=build_script)
    return cache.start_build(version_of(None, options.default_kube_tag))


@dataclass(frozen=True)
class Progress:
    """One reading of ``<version>.progress``: a numbered step, done, or failed."""

    text: str

    @property
    def failed(self) -> bool:
        return self.text.startswith("failed")

    @property
    def done(self) -> bool:
        return self.text == "done"

    def describe(self) -> str:
        """"step 4/7: compiling ...", or the text itself when it is not a numbered step."""
        step, _, what = self.text.partition(" ")
        if re.fullmatch(r"\d+/\d+", step):
            return f"step {step}: {what}"
        return self.text


class Binaries:
    """The host-wide cache of Kubernetes binaries and the one build that fills it."""

    def __init__(self, cache_dir: str, *, build_script: str = BUILD_SCRIPT,
                 retry_after: float) -> None:
        self.cache_dir = cache_dir
        self.build_script = build_script
        self.retry_after = retry_after

    def installed(self) -> list[str]:
        """Versions built completely into the cache."""
        try:
            names = os.listdir(self.cache_dir)
        except FileNotFoundError:
            return []
        return sorted(name for name in names
                      if _VERSION.fullmatch(name) and os.path.isfile(self._built_marker(name)))

    def is_built(self, version: str) -> bool:
        return os.path.isfile(self._built_marker(version))

    def bin_dir(self, version: str) -> str:
        return os.path.join(self._version_dir(version), "bin")

    def log_path(self, version: str) -> str:
        return self._version_dir(version) + ".log"

    def progress(self, version: str) -> str | None:
        """The text of the build's progress file, or None before any build of ``version``."""
        try:
            with open(self._version_dir(version) + ".progress") as handle:
                return handle.read().strip()
        except FileNotFoundError:
            return None

    def building(self) -> bool:
        """Whether a build runs on this host now (someone holds ``build.lock``)."""
        try:
            fd = os.open(self._lock_path(), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also releases the lock if we took it
        return False

    def start_build(self, version: str) -> bool:
        """Start building ``version`` in the background; False when built or a build runs."""
        if self.is_built(version):
            return False
        self._prepare_cache()
        with self._lock_if_free() as fd:
            if fd is None or self.is_built(version):
                return False
            self._launch(version, fd)
        return True

    def require(self, version: str) -> str:
        """The bin dir of ``version`` when it is built; otherwise see that it is being built.

        Raises ``TemporaryError`` (the cluster waits) while a build runs or after starting one,
        and ``PermanentError`` when a build failed less than ``retry_after`` seconds ago.
        """
        if self.is_built(version):
            return self.bin_dir(version)
        started = False
        if not self.building():
            self._refuse_recent_failure(version)
            started = self.start_build(version)
        if self.is_built(version):  # finished between our looks
            return self.bin_dir(version)
        raise TemporaryError(f"Kubernetes {version} is being built on this host "
                             f"({self._step(version, started)}); the cluster waits for it.",
                             delay=REQUEUE_DELAY)

    def log_tail(self, version: str, lines: int = LOG_TAIL_LINES) -> list[str]:
        try:
            with open(self.log_path(version), errors="replace") as handle:
                return [line.rstrip("\n") for line in collections.deque(handle, lines)]
        except FileNotFoundError:
            return []

    def failure(self, version: str) -> str:
        """A user-readable account of the last failed build: its reason, log and last lines."""
        reading = Progress(self.progress(version) or "failed before its first step")
        ended = reading.text if reading.failed else f"stopped at {reading.describe()}"
        tail = "\n".join(self.log_tail(version))
        return (f"Building Kubernetes {version} on this host {ended}; "
                f"log: {self.log_path(version)}; last lines:\n{tail}")

    def _refuse_recent_failure(self, version: str) -> None:
        text = self.progress(version)
        if text is None or not Progress(text).failed:
            return
        try:
            age = time.time() - os.stat(self._version_dir(version) + ".progress").st_mtime
        except FileNotFoundError:
            return
        if age < self.retry_after:
            raise PermanentError(f"{self.failure(version)}\nIt is tried again "
                                 f"{self.retry_after:.0f} s after the failure.")

    def _step(self, version: str, started: bool) -> str:
        text = self.progress(version)
        # NOTE: right after a start the file still holds the previous build's last words.
        if started or text is None or Progress(text).failed or Progress(text).done:
            return "starting"
        return Progress(text).describe()

    def _prepare_cache(self) -> None:
        """Create the cache 0755 (root-owned when run as root); refuse one others can write:
        its binaries run as root."""
        if not os.path.isdir(self.cache_dir):
            os.makedirs(self.cache_dir, mode=0o755, exist_ok=True)
            os.chmod(self.cache_dir, 0o755)  # whatever the umask said
        info = os.stat(self.cache_dir)
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise PermanentError(f"The Kubernetes binary cache {self.cache_dir} must be owned "
                                 f"by uid {os.geteuid()} and writable by it alone.")

    @contextlib.contextmanager
    def _lock_if_free(self) -> Iterator[int | None]:
        fd = os.open(self._lock_path(), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            yield fd
        finally:
            os.close(fd)

    def _launch(self, version: str, lock_fd: int) -> None:
        launcher = subprocess.Popen(
            ["bash", "-c", _LAUNCHER.format(fd=lock_fd), self.build_script, self.cache_dir,
             version],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(lock_fd,), start_new_session=True, cwd="/")
        launcher.wait()

    def _version_dir(self, version: str) -> str:
        if not _VERSION.fullmatch(version):
            raise Invalid(f"{version!r} is not a Kubernetes version (like 1.20.2).")
        return os.path.join(self.cache_dir, version)

    def _built_marker(self, version: str) -> str:
        return os.path.join(self._version_dir(version), "BUILT")

    def _lock_path(self) -> str:
        return os.path.join(self.cache_dir, "build.lock")
