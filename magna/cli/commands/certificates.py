"""A cluster's CA: ``ca show``, ``ca sign``, ``ca rotate`` (legacy ``ca-show`` …).

Both the ``openstack coe`` form (``ca sign CLUSTER FILE``) and the original ``magnum`` form
(``ca-sign --bay CLUSTER --csr FILE``, ``--cluster`` too) are accepted.
"""

from __future__ import annotations

import argparse

from magna.cli import base
from magna.client import ClientError


def _cluster(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("positional_cluster", nargs="?", metavar="CLUSTER")
    parser.add_argument("--cluster", "--bay", dest="cluster", help="Name or UUID.")
    return parser


def cluster_of(parser_args: argparse.Namespace) -> str:
    ident = parser_args.cluster or parser_args.positional_cluster
    if not ident:
        raise ClientError("Name the cluster: CLUSTER or --cluster/--bay CLUSTER.")
    return str(ident)


class Show(base.Action):
    """Print the cluster's CA certificate (PEM)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _cluster(super().get_parser(prog_name))
        parser.add_argument("--ca-cert-type", help="etcd or front_proxy: an auxiliary CA.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        certificate = self.client.ca(cluster_of(parsed_args), parsed_args.ca_cert_type)
        self.app.stdout.write(certificate.attrs.get("pem") or "")
        return 0


class Sign(base.Action):
    """Sign a certificate signing request with the cluster's CA; print the certificate."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _cluster(super().get_parser(prog_name))
        parser.add_argument("positional_csr", nargs="?", metavar="CSR_FILE")
        parser.add_argument("--csr", help="File holding the CSR (PEM).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        path = parsed_args.csr or parsed_args.positional_csr
        if not path:
            raise ClientError("Give the CSR file: CSR_FILE or --csr FILE.")
        try:
            with open(path) as handle:
                csr = handle.read()
        except OSError as exc:
            raise ClientError(f"Cannot read {path}: {exc.strerror}.") from None
        certificate = self.client.sign(cluster_of(parsed_args), csr)
        self.app.stdout.write(certificate.attrs.get("pem") or "")
        return 0


class Rotate(base.Action):
    """Replace the cluster's CA (the driver must support it)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _cluster(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        ident = cluster_of(parsed_args)
        self.client.rotate_ca(ident)
        self.say(f"Request to rotate the CA of cluster {ident} has been accepted.")
        return 0
