"""``cluster config NAME [--dir D] [--force]``: credentials and settings for docker or kubectl.

The key and CSR are made here (``client/tlsconfig.py``), the cluster's CA signs the CSR
(``POST /v1/certificates``), and ``ca.pem``, ``cert.pem``, ``key.pem`` (mode 0600) are written to
the directory, as ``openstack coe cluster config --output-certs`` does; the shell lines to
``eval`` go to stdout. A kubernetes cluster gets a ``config`` kubeconfig instead. A template
with TLS disabled needs no certificates: only ``DOCKER_HOST`` is printed.

A second run in a directory holding this cluster's credentials prints the exports again (nothing
signed, nothing written). Because its output is meant for ``eval``, a failure also prints
``false`` on stdout: ``eval "$(magna cluster-config …)"`` then fails instead of silently
setting nothing (the reason is on stderr).
"""

from __future__ import annotations

import argparse
import os

from magna.cli import base
from magna.client import tlsconfig

EVAL_FAILS = "false"


class ClusterConfig(base.Action):
    """Write the files a native client needs to reach a cluster; print the shell exports."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cluster", metavar="CLUSTER", help="Name or UUID.")
        parser.add_argument("--dir", default=".", help="Where to write (default: here).")
        parser.add_argument("--force", action="store_true", help="Overwrite existing files.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        try:
            plan = self._plan(parsed_args)
        except Exception:
            self.say(EVAL_FAILS)
            raise
        for line in plan.exports:
            self.say(line)
        return 0

    def _plan(self, parsed_args: argparse.Namespace) -> tlsconfig.Plan:
        cluster = self.client.clusters.get(parsed_args.cluster).attrs
        tlsconfig.api_address(cluster)  # before asking for a certificate that would be useless
        template = self.client.cluster_templates.get(cluster["cluster_template_id"]).attrs
        directory = os.path.abspath(parsed_args.dir)
        if template.get("tls_disabled"):
            return tlsconfig.plan(cluster, template, directory, None)
        ca_pem = str(self.client.ca(cluster["uuid"]).pem)
        if not parsed_args.force:
            kept = tlsconfig.reused(directory, cluster, template, ca_pem)
            if kept is not None:
                return kept
        plan = tlsconfig.plan(cluster, template, directory,
                              self._credentials(cluster["uuid"], ca_pem))
        tlsconfig.write(directory, plan, force=parsed_args.force)
        return plan

    def _credentials(self, uuid: str, ca_pem: str) -> tlsconfig.Credentials:
        key_pem, csr_pem = tlsconfig.new_key_and_csr()
        cert_pem = str(self.client.sign(uuid, csr_pem).pem)
        return tlsconfig.Credentials(ca_pem=ca_pem, cert_pem=cert_pem, key_pem=key_pem)
