"""Microversion negotiation, path normalisation and error titles."""

from __future__ import annotations

import pytest

from magna.api import errors, microversion
from magna.api.middleware import normalize
from magna.common.exceptions import NotAcceptable, UnsupportedMicroversion


@pytest.mark.parametrize(("header", "expected"), [
    (None, (1, 1)),
    ("container-infra latest", (1, 14)),
    ("container-infra 1.9", (1, 9)),
    ("container-infrastructure-management 1.14", (1, 14)),
    ("Container-Infra 1.2", (1, 2)),
])
def test_negotiated_versions(header: str | None, expected: tuple[int, int]) -> None:
    assert microversion.negotiate(header) == expected


@pytest.mark.parametrize(("header", "path", "expected"), [
    (None, "/v1/clusters/c1/actions/resize", (1, 7)),
    (None, "/v1/clusters/c1/actions/upgrade", (1, 8)),
    (None, "/v1/clusters/c1", (1, 1)),
    (None, "/v1/clusters/c1/nodegroups", (1, 1)),
    (None, "/v1/credentials/c1", (1, 1)),
    (None, "/v1/clusters/c1/actions/resize/x", (1, 1)),
    ("container-infra 1.6", "/v1/clusters/c1/actions/resize", (1, 6)),
    ("container-infra 1.1", "/v1/clusters/c1/actions/upgrade", (1, 1)),
])
def test_only_the_sdk_actions_default_to_their_own_version(
        header: str | None, path: str, expected: tuple[int, int]) -> None:
    # openstacksdk sends no header; a client that names a version gets exactly that one.
    assert microversion.negotiate(header, path) == expected


@pytest.mark.parametrize("header", ["1.5", "compute 1.5", "container-infra one", "container-infra"])
def test_malformed_headers_are_406(header: str) -> None:
    with pytest.raises(NotAcceptable):
        microversion.negotiate(header)


@pytest.mark.parametrize("header", ["container-infra 1.99", "container-infra 2.0",
                                    "container-infra 1.0"])
def test_out_of_range_versions_get_the_special_406(header: str) -> None:
    with pytest.raises(UnsupportedMicroversion):
        microversion.negotiate(header)


@pytest.mark.parametrize(("path", "expected"), [
    ("/", "/"), ("/v1", "/v1"), ("/v1/", "/v1"), ("/clusters/", "/v1/clusters"),
    ("/v1/clusters/x/nodegroups/", "/v1/clusters/x/nodegroups"), ("/v1.json", "/v1"),
    ("/healthcheck", "/healthcheck"),
    ("/compute/v2.1/", "/compute/v2.1"), ("/image/v2/images", "/image/v2/images"),
    ("/computer", "/v1/computer"),
])
def test_paths_are_normalised(path: str, expected: str) -> None:
    assert normalize(path) == expected


def test_titles_are_the_first_sentence() -> None:
    assert errors.title_of("Cluster x could not be found.") == "Cluster x could not be found"
    assert errors.title_of("Needs version 1.7 or later. Sorry.") == "Needs version 1.7 or later"
    body = errors.error_body(400, "Bad thing. More detail.", "client")
    assert body["errors"][0]["title"] == "Bad thing"
    assert body["errors"][0]["detail"] == "Bad thing. More detail."


def test_an_integer_marker_beyond_the_databases_ids_is_a_400_not_a_500() -> None:
    from magna.api import params
    from magna.common.exceptions import Invalid

    assert params.integer("9" * 18, "marker") == int("9" * 18)
    with pytest.raises(Invalid, match="at most 18 digits"):
        params.integer("9" * 30, "marker")
