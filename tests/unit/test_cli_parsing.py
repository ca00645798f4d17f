"""The CLI's and SDK's pure parts: update operations, labels, progress lines, error messages,
environment configuration and the cluster-config plan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from magna.cli import parsing, progress
from magna.client import container_waiting, errors, tlsconfig, waiting
from magna.client.config import ClientConfig
from magna.client.models import Container


def test_bay_update_replace_node_count_is_an_integer() -> None:
    assert parsing.patch("replace", ["node_count=2"]) == [
        {"op": "replace", "path": "/node_count", "value": 2}]


def test_update_ops_values_and_labels() -> None:
    assert parsing.patch("add", ["labels=a=1,b=x", "public=True", "name=web-1"]) == [
        {"op": "add", "path": "/labels", "value": {"a": "1", "b": "x"}},
        {"op": "add", "path": "/public", "value": True},
        {"op": "add", "path": "/name", "value": "web-1"}]
    assert parsing.patch("remove", ["labels", "/dns_nameserver"]) == [
        {"op": "remove", "path": "/labels"}, {"op": "remove", "path": "/dns_nameserver"}]
    assert parsing.patch("replace", ["discovery_url=http://x/?a=b"])[0]["value"] == \
        "http://x/?a=b"  # only the first '=' splits


@pytest.mark.parametrize(("op", "words", "message"), [
    ("frob", ["a=b"], "Operation must be one of add, replace, remove"),
    ("replace", ["node_count"], "'replace' needs KEY=VALUE"),
    ("add", ["=3"], "Attribute name missing"),
    ("replace", [], "at least one attribute"),
])
def test_bad_update_words(op: str, words: list[str], message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parsing.patch(op, words)


def test_labels_once_split_on_commas_repeated_taken_whole() -> None:
    assert parsing.labels(["a=1,b=2"]) == {"a": "1", "b": "2"}
    assert parsing.labels(["a=1,2", "b=3"]) == {"a": "1,2", "b": "3"}
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        parsing.labels(["novalue"])


def test_values() -> None:
    assert [parsing.value_of(v) for v in ("2", "-1", "false", "TRUE", "2.5", "x")] == [
        2, -1, False, True, "2.5", "x"]


def make_progress(**overrides: object) -> waiting.Progress:
    values: dict[str, object] = {"status": "CREATE_IN_PROGRESS", "reason": "", "health": "",
                                 "ready": 1, "expected": 3, "elapsed": 12.4}
    values.update(overrides)
    return waiting.Progress(**values)  # type: ignore[arg-type]


def test_progress_line() -> None:
    assert progress.describe("bay", make_progress()) == "bay: CREATE_IN_PROGRESS  nodes 1/3  12s"
    assert progress.describe("bay", make_progress(health="HEALTHY", status="CREATE_COMPLETE",
                                                  ready=3)) == \
        "bay: CREATE_COMPLETE  nodes 3/3  HEALTHY  12s"
    assert progress.describe("bay", make_progress(status="DELETE_COMPLETE", expected=0)) == \
        "bay: DELETE_COMPLETE  12s"


def test_plain_progress_prints_only_changes() -> None:
    line = progress.describe("c", make_progress())
    assert not progress._moved(progress.describe("c", make_progress(elapsed=13)), line)
    assert progress._moved(progress.describe("c", make_progress(ready=2)), line)


def test_terminal_states() -> None:
    assert make_progress(status="UPDATE_COMPLETE").done
    assert make_progress(status="ROLLBACK_COMPLETE").failed
    assert make_progress(status="CREATE_FAILED").failed
    assert not make_progress().done and not make_progress().failed


@pytest.mark.parametrize(("body", "message"), [
    (b'{"errors": [{"title": "Bad", "detail": "Cluster x could not be found.", "code": 404}]}',
     "Cluster x could not be found. (HTTP 404)"),
    (b'{"error_message": "{\\"faultstring\\": \\"Old style.\\", \\"debuginfo\\": null}"}',
     "Old style. (HTTP 404)"),
    (b'{"error": {"message": "The request you have made requires authentication.", '
     b'"code": 401}}', "The request you have made requires authentication. (HTTP 404)"),
    (b"<html>Not Found</html>", "<html>Not Found</html> (HTTP 404)"),
])
def test_server_messages(body: bytes, message: str) -> None:
    error = errors.from_response(404, body)
    assert isinstance(error, errors.NotFound) and error.exit_code == 1
    assert error.message == message


def test_error_classes_by_status() -> None:
    assert isinstance(errors.from_response(409, b"{}"), errors.Conflict)
    assert isinstance(errors.from_response(503, b"{}"), errors.ServerError)
    assert type(errors.from_response(418, b"{}")) is errors.HTTPError


def test_config_from_environment() -> None:
    default = ClientConfig.from_env({})
    assert (default.url, default.token, default.api_version) == (
        "http://127.0.0.1:9511", None, "1.14")
    assert not default.url_given
    env = {"MAGNA_URL": "http://h:1/v1/", "OS_AUTH_TOKEN": "t", "MAGNA_API_VERSION": "1.2"}
    config = ClientConfig.from_env(env)
    assert (config.url, config.token, config.api_version) == ("http://h:1", "t", "1.2")
    assert ClientConfig.from_env({**env, "MAGNA_TOKEN": "m"}, token="arg").token == "arg"
    assert ClientConfig.from_env({**env, "MAGNA_TOKEN": "m"}).token == "m"


CLUSTER = {"name": "c", "uuid": "u", "api_address": "tcp://10.0.0.2:2376", "status": "X"}
CREDS = tlsconfig.Credentials(ca_pem="CA\n", cert_pem="CERT\n", key_pem="KEY\n")


def test_swarm_plan_with_and_without_tls() -> None:
    plan = tlsconfig.plan(CLUSTER, {"coe": "swarm-mode"}, "/d", CREDS)
    assert plan.exports == ["export DOCKER_HOST=tcp://10.0.0.2:2376",
                            "export DOCKER_CERT_PATH=/d", "export DOCKER_TLS_VERIFY=1"]
    assert plan.files["key.pem"] == ("KEY\n", 0o600) and plan.files["ca.pem"][1] == 0o644
    plain = tlsconfig.plan(CLUSTER, {"coe": "swarm-mode", "tls_disabled": True}, "/d", None)
    assert plain.exports == ["export DOCKER_HOST=tcp://10.0.0.2:2376"] and not plain.files


def test_kubernetes_plan_and_missing_address() -> None:
    plan = tlsconfig.plan(CLUSTER, {"coe": "kubernetes"}, "/d", CREDS)
    assert plan.exports == ["export KUBECONFIG=/d/config"]
    config = json.loads(plan.files["config"][0])
    assert config["current-context"] == "c"
    assert config["clusters"][0]["cluster"]["server"] == "tcp://10.0.0.2:2376"
    with pytest.raises(errors.ClientError, match="has no API address yet"):
        tlsconfig.plan({**CLUSTER, "api_address": None}, {"coe": "swarm-mode"}, "/d", CREDS)


def test_write_refuses_to_overwrite_and_fixes_modes(tmp_path: Path) -> None:
    plan = tlsconfig.plan(CLUSTER, {"coe": "swarm-mode"}, str(tmp_path), CREDS)
    (tmp_path / "key.pem").write_text("old")
    (tmp_path / "key.pem").chmod(0o644)
    with pytest.raises(errors.ClientError, match=r"key\.pem already in"):
        tlsconfig.write(str(tmp_path), plan, force=False)
    assert (tmp_path / "key.pem").read_text() == "old"
    tlsconfig.write(str(tmp_path), plan, force=True)
    assert (tmp_path / "key.pem").read_text() == "KEY\n"
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600


def test_container_memory_as_the_original_client_took_it() -> None:
    assert [parsing.memory_mib(v) for v in ("64", "64m", "64M", "1g", "1024k",
                                            str(32 << 20) + "b")] == [64, 64, 64, 1024, 1, 32]
    for bad in ("1.5g", "512k", "64mb", "-1", "", "g"):
        with pytest.raises(argparse.ArgumentTypeError):
            parsing.memory_mib(bad)


def test_container_environment_keeps_commas_and_equals() -> None:
    assert parsing.env_var("LIST=a,b=c") == ("LIST", "a,b=c")
    assert parsing.env_var("EMPTY=") == ("EMPTY", "")
    for bad in ("NOEQUALS", "=x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parsing.env_var(bad)


def test_container_wait_settles_only_on_the_conductors_record() -> None:
    def step(since: str | None, gone: bool = False, **attrs: object) -> container_waiting.Step:
        return container_waiting.step_of(Container(attrs), since=since, elapsed=2.4, gone=gone)

    # Still the answer the action got (the engine's old state): not settled.
    assert not step("t0", status="Running", updated_at="t0").settled
    assert step("t0", status="Running", updated_at="t1").settled
    assert not step(None, status="Creating", updated_at=None).settled
    assert not step(None, status="Creating", updated_at="t1").settled  # a reason was noted
    quick = step(None, status="Stopped", exit_code=3, host="10.0.0.2", updated_at="t1")
    assert quick.settled and progress.describe_container("quick", quick) == \
        "quick: Stopped  exit code 3  on 10.0.0.2  2s"
    assert not step("t0", gone=True, status="Deleting", updated_at="t1").settled
    old = step("t0", status="Running", host="10.0.0.2", updated_at="t0")
    assert progress.describe_container("box", old) == \
        "box: Running  on 10.0.0.2  (waiting for the engine)  2s"


def test_federation_update_words_join_and_unjoin_one_cluster() -> None:
    from magna.cli.commands.federations import membership_op

    assert membership_op("add", "member_ids=c1") == {"op": "add", "path": "/member_ids",
                                                     "value": "c1"}
    assert membership_op("remove", "member_ids=123") == {"op": "remove", "path": "/member_ids",
                                                         "value": "123"}
    assert membership_op("remove", "properties/team") == {"op": "remove",
                                                          "path": "/properties/team"}
    assert membership_op("replace", "member_ids=7") == {"op": "replace", "path": "/member_ids",
                                                        "value": 7}
