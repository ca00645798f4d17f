"""A cluster's certificates in the browser: show and download its CA, sign a CSR, rotate the
CA, and download a ready-to-use client configuration.

Every step is the certificates API (``/v1/certificates``) with the user's identity. "Download
config" does what ``magna cluster-config`` does, on the server: ``client/tlsconfig.py`` makes
the key and CSR and plans the files, the API signs the CSR, and the files go to the browser as
one zip (nothing is kept here). Its ``env.sh`` holds the plan's exports with the directory the
zip was unpacked into as the certificate path (``$(dirname …)`` of ``env.sh`` itself), so
``. ./env.sh`` works wherever the user unpacks it.

Signing a CSR answers with the certificate on the page (no redirect: the certificate is not
stored anywhere a later GET could show it).
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.client import errors as client_errors
from magna.client import tlsconfig
from magna.dashboard.apicall import ApiError
from magna.dashboard.pages.cluster_detail import render_detail
from magna.dashboard.web import Page, page_handler

# The directory of env.sh, as the shell that sources it sees it (bash, zsh, or sh run on it).
HERE = '"$(cd "$(dirname "${BASH_SOURCE:-$0}")" && pwd)"'
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@page_handler
async def show_ca(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    ca = await page.api.get(f"/v1/certificates/{cluster['uuid']}")
    return page.render("clusters/ca.html", cluster=cluster, pem=ca["pem"],
                       rotated=page.request.query_params.get("rotated") == "1")


@page_handler
async def download_ca(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    ca = await page.api.get(f"/v1/certificates/{cluster['uuid']}")
    return Response(ca["pem"], media_type="application/x-pem-file",
                    headers=attachment(f"{cluster['name']}-ca.pem"))


@page_handler
async def sign_csr(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    values, errors, signed, status = {"csr": page.form.get("csr")}, {}, None, 200
    if page.request.method == "POST":
        try:
            answer = await page.api.post("/v1/certificates", {
                "cluster_uuid": cluster["uuid"], "csr": values["csr"]})
            signed = answer["pem"]
        except ApiError as exc:
            if exc.status == 401:
                raise
            status = exc.status
            # NOTE: every refusal of this form is about the CSR (a 400) unless the policy
            # refused the user (403): that goes above the form.
            errors = ({"csr": exc.message} if exc.status == 400
                      else {"_form": exc.message})
    return page.render("clusters/sign.html", status=status, cluster=cluster, values=values,
                       errors=errors, signed=signed)


@page_handler
async def rotate_ca(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    try:
        await page.api.patch(f"/v1/certificates/{ident}", [])
    except ApiError as exc:
        if exc.status in (401, 404):
            raise
        return await render_detail(page, ident, status=exc.status,
                                   error=f"The CA was not rotated: {exc.message}")
    return page.redirect(f"/clusters/{ident}/ca?rotated=1")


@page_handler
async def download_config(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    refusal = not_ready(cluster)
    if refusal:
        return await render_detail(page, ident, status=409, error=refusal)
    template = await page.api.get(f"/v1/clustertemplates/{cluster['cluster_template_id']}")
    try:
        files = await config_files(page, cluster, template)
    except ApiError as exc:
        if exc.status == 401:
            raise
        return await render_detail(page, ident, status=exc.status,
                                   error=f"No configuration: {exc.message}")
    except client_errors.ClientError as exc:
        return await render_detail(page, ident, status=409, error=str(exc))
    return Response(zipped(files), media_type="application/zip",
                    headers=attachment(f"{cluster['name']}-config.zip"))


def not_ready(cluster: dict[str, Any]) -> str | None:
    """Why a cluster has no usable configuration yet (only a ``*_COMPLETE`` one has)."""
    status = str(cluster.get("status") or "")
    if status.endswith("_COMPLETE"):
        return None
    return (f"The configuration can be downloaded once the cluster is complete; it is "
            f"{status or 'not built yet'} now.")


async def config_files(page: Page, cluster: dict[str, Any],
                       template: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Sign a fresh key's CSR (unless the template disables TLS) and bundle the result."""
    tlsconfig.api_address(cluster)  # before signing a certificate that would be useless
    creds = None
    if not template.get("tls_disabled"):
        ca = await page.api.get(f"/v1/certificates/{cluster['uuid']}")
        key_pem, csr_pem = await asyncio.to_thread(tlsconfig.new_key_and_csr)
        signed = await page.api.post("/v1/certificates", {"cluster_uuid": cluster["uuid"],
                                                          "csr": csr_pem})
        creds = tlsconfig.Credentials(ca_pem=ca["pem"], cert_pem=signed["pem"],
                                      key_pem=key_pem)
    return bundle(cluster, template, creds)


def bundle(cluster: dict[str, Any], template: dict[str, Any],
           creds: tlsconfig.Credentials | None) -> dict[str, tuple[str, int]]:
    """What the zip holds: the plan's files and ``env.sh`` with its exports."""
    plan = tlsconfig.plan(cluster, template, HERE, creds)
    env = (f"# Settings for the {template.get('coe')} cluster {cluster['name']}. In bash or "
           "zsh:\n#   . path/to/env.sh\n# (the files beside it are found wherever it is).\n"
           + "\n".join(plan.exports) + "\n")
    return {**plan.files, "env.sh": (env, 0o644)}


def zipped(files: dict[str, tuple[str, int]]) -> bytes:
    """The files as a zip that keeps their modes (``key.pem`` stays 0600 when unpacked)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return buffer.getvalue()


def attachment(filename: str) -> dict[str, str]:
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
    return {"Content-Disposition": f'attachment; filename="{safe}"'}


ROUTES = [
    Route("/clusters/{ident}/ca", show_ca),
    Route("/clusters/{ident}/ca.pem", download_ca),
    Route("/clusters/{ident}/sign", sign_csr, methods=["GET", "POST"]),
    Route("/clusters/{ident}/rotate-ca", rotate_ca, methods=["POST"]),
    Route("/clusters/{ident}/config", download_config, methods=["POST"]),
]
