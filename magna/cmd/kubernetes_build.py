"""``magna kubernetes-build``: build the Kubernetes binaries ahead of the first cluster.

A host-side command like ``magna serve``: it works on this host's cache
(``[local_kubernetes] cache_dir``), not through the API. Without ``--background`` it starts the
build, or joins one already running (from a conductor, ``./dev`` or another shell), and follows
it, printing each new progress line, until it is built (exit 0) or failed (exit 1, with the
log's last lines). With ``--background`` it starts the build and returns at once: ``./dev``
does that right after installing, so the binaries are ready, or nearly, when the first
Kubernetes cluster or test asks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import TextIO

from cliff.command import Command

from magna.common.exceptions import MagnaError
from magna.drivers.local_kubernetes import binaries
from magna.drivers.local_kubernetes.binaries import Binaries, Progress, version_of

COMMAND = "kubernetes-build"
POLL_SECONDS = 1.0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class KubernetesBuild(Command):
    """Build (or wait for) this host's Kubernetes binaries from Debian's source package."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("--kube-version", dest="kube_version", metavar="VERSION",
                            help="Kubernetes version, e.g. 1.20.2; also spelled --version "
                                 "after the command (default: [local_kubernetes] "
                                 "default_kube_tag).")
        parser.add_argument("--background", action="store_true",
                            help="Start the build and return at once.")
        parser.add_argument("--cache-dir",
                            help="The cache to build into (default: [local_kubernetes] "
                                 "cache_dir).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        from magna.cmd import compose

        conf = compose.load_config(self.app.options.config_file).local_kubernetes
        out: TextIO = self.app.stdout
        try:
            version = version_of(parsed_args.kube_version, conf.default_kube_tag)
            cache = binaries.from_options(conf)
            if parsed_args.cache_dir:
                cache = Binaries(parsed_args.cache_dir, retry_after=conf.build_retry_after)
            before = cache.progress(version)
            started = cache.start_build(version)
        except MagnaError as exc:
            self.app.stderr.write(f"ERROR: {exc.message}\n")
            return EXIT_BAD_INPUT
        except OSError as exc:
            self.app.stderr.write(f"ERROR: cannot build into the cache: {exc}\n")
            return EXIT_FAILED
        if cache.is_built(version):
            out.write(f"Kubernetes {version} is built: {cache.bin_dir(version)}\n")
            return 0
        out.write(f"Kubernetes {version}: "
                  f"{'build started' if started else 'joining the build that runs'} "
                  f"(log: {cache.log_path(version)})\n")
        if parsed_args.background:
            return 0
        return follow(cache, version, out, self.app.stderr, stale=before if started else None)


def follow(cache: Binaries, version: str, out: TextIO, err: TextIO, *,
           stale: str | None) -> int:
    """Print each new progress line until the build ends; 0 when built, 1 (the failure and
    the log's last lines on ``err``) when not.

    ``stale`` is the progress file's text from before this build started, not printed.
    """
    shown = stale
    while True:
        running = cache.building()
        text = cache.progress(version)
        if text is not None and text != shown:
            out.write(f"Kubernetes {version}: {Progress(text).describe()}\n")
            out.flush()
            shown = text
        if cache.is_built(version):
            out.write(f"Kubernetes {version} is built: {cache.bin_dir(version)}\n")
            return 0
        if not running:
            err.write(cache.failure(version) + "\n")
            return EXIT_FAILED
        time.sleep(POLL_SECONDS)


def own_version_option(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--version`` after ``kubernetes-build`` spelled ``--kube-version``.

    NOTE: cliff's global parser takes ``--version`` wherever it appears (and prints the
    program's version), so the command's own ``--version`` must be renamed before cliff sees it.
    """
    words = list(argv)
    if COMMAND not in words:
        return words
    start = words.index(COMMAND) + 1
    renamed = ["--kube-version" + word[len("--version"):]
               if word == "--version" or word.startswith("--version=") else word
               for word in words[start:]]
    return words[:start] + renamed
