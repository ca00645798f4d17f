"""SSH keys and the stock ``ssh`` client, for tests of keypairs and of logins into local nodes.

``ssh_public_key`` is a fresh public key in OpenSSH's format (ed25519, or RSA), made in process,
for uploading as a keypair; ``make_key`` writes a key pair with ``ssh-keygen`` for the client;
``login`` runs one command through ``ssh`` with that key, never asking and never remembering a
host key. The keypair, catalog and node SSH tests share them, and so does
``schemathesis_cli.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def ssh_public_key(kind: str = "ed25519") -> str:
    key = (ed25519.Ed25519PrivateKey.generate() if kind == "ed25519"
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def make_key(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def login(key: Path, user: str, address: str, command: str,
          *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o",
         "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         "-o", "LogLevel=ERROR", *options, f"{user}@{address}", command],
        capture_output=True, text=True, timeout=60, check=False)
