"""The sealed node's authorization policy: the issue's attacks, the probe's bypasses and the
calls a cluster's users and Magna's conductor make, with bodies shaped as the docker CLI 28
(API 1.41) and docker-py send them."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from magna.drivers.engine_guard.policy import Decision, decide

# POST /v1.41/containers/create?name=web for
# docker run -d --name web -v data:/data -p 8080:80 -e A=1 busybox httpd -f (captured)
CLI_CREATE = json.loads(
    '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"Attac'
    'hStderr":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":fa'
    'lse,"Env":["A=1"],"Cmd":["httpd","-f"],"Image":"busybox","Volumes":{},"WorkingDir":"","E'
    'ntrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":["data:/data"],"Contain'
    'erIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":'
    '{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"RestartPolicy":{"Name":"no","MaximumRetryC'
    'ount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"Ca'
    'pAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"Ext'
    'raHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"Pid'
    'Mode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt"'
    ':null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"'
    'NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps'
    '":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPer'
    'iod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","Cpuset'
    'Mems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation"'
    ':0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":['
    '],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":nul'
    'l,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":n'
    'ull,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"Networ'
    'kID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","Gl'
    'obalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}'
)
IMAGE = "192.168.77.1:5000/magna/busybox:latest"


def make_request(method: str, uri: str, body: Any = None, *, raw: bytes | None = None,
                 **overrides: Any) -> dict[str, Any]:
    """An AuthZReq as dockerd sends it (RequestBody absent when dockerd did not show it)."""
    request: dict[str, Any] = {"User": "tenant", "UserAuthNMethod": "TLS",
                               "RequestMethod": method, "RequestUri": uri,
                               "RequestHeaders": {"Content-Type": "application/json"}}
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if data is not None:
        request["RequestBody"] = base64.b64encode(data).decode()
    request.update(overrides)
    return request


def make_create(**host_config: Any) -> dict[str, Any]:
    body = copy.deepcopy(CLI_CREATE)
    body["HostConfig"].update(host_config)
    return body


def create(**host_config: Any) -> Decision:
    return decide(make_request("POST", "/v1.41/containers/create", make_create(**host_config)))


def make_service(**container_spec: Any) -> dict[str, Any]:
    """docker service create --name s1 --mount type=volume,src=data,dst=/data
    --publish mode=host,target=80,published=8080 busybox sleep 1d (captured)."""
    spec: dict[str, Any] = {
        "Name": "s1", "Labels": {},
        "TaskTemplate": {"ContainerSpec": {
            "Image": "busybox:latest", "Args": ["sleep", "1d"], "Init": False,
            "Mounts": [{"Type": "volume", "Source": "data", "Target": "/data"}],
            "DNSConfig": {}},
            "Resources": {"Limits": {}, "Reservations": {}}, "Placement": {}, "ForceUpdate": 0},
        "Mode": {"Replicated": {}},
        "EndpointSpec": {"Mode": "vip", "Ports": [{"Protocol": "tcp", "TargetPort": 80,
                                                  "PublishedPort": 8080,
                                                  "PublishMode": "host"}]}}
    spec["TaskTemplate"]["ContainerSpec"].update(container_spec)
    return spec


def refused(decision: Decision, *words: str) -> bool:
    text = decision.message
    return (not decision.allow and text.startswith("This cluster does not allow")
            and text.endswith(".") and all(word in text for word in words))


# --- the attacks (FINDINGS section 6) ---------------------------------------------------

@pytest.mark.parametrize("source", ["/", "/run/magna", "/proc", "/sys", "/dev", "/run",
                                    "/var/lib", "./here", "../up", "~/x"])
def test_binds_of_host_paths_are_refused(source: str) -> None:
    assert refused(create(Binds=[f"{source}:/host"]), "bind mounts of host paths", source)


def test_mounts_of_type_bind_are_refused() -> None:
    mount = {"Type": "bind", "Source": "/", "Target": "/host"}
    assert refused(create(Mounts=[mount]), "mounts of type bind", "(/)")


def test_a_volume_mount_with_bind_options_is_refused() -> None:
    mount = {"Type": "volume", "Target": "/h", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"device": "/", "o": "bind", "type": "none"}}}}
    assert refused(create(Mounts=[mount]), "volume driver options")


@pytest.mark.parametrize(("host_config", "words"), [
    ({"Privileged": True}, ("privileged containers",)),
    ({"Privileged": True, "UsernsMode": "host"}, ("privileged containers",)),
    ({"PidMode": "host"}, ("PidMode=host",)),
    ({"UsernsMode": "host"}, ("UsernsMode=host",)),
    ({"NetworkMode": "host", "CapAdd": ["NET_ADMIN"]}, ("NetworkMode=host",)),
    ({"IpcMode": "host"}, ("IpcMode=host",)),
    ({"UTSMode": "host"}, ("UTSMode=host",)),
    ({"CgroupnsMode": "host"}, ("CgroupnsMode=host",)),
    ({"CapAdd": ["ALL"]}, ("capabilities ALL",)),
    ({"CapAdd": ["cap_sys_admin"]}, ("capabilities SYS_ADMIN",)),
    ({"Devices": [{"PathOnHost": "/dev/vda", "PathInContainer": "/dev/vda",
                   "CgroupPermissions": "rwm"}]}, ("host devices (Devices)",)),
    ({"DeviceCgroupRules": ["b 254:* rmw"]}, ("DeviceCgroupRules",)),
    ({"DeviceRequests": [{"Driver": "nvidia", "Count": -1}]}, ("DeviceRequests",)),
    ({"SecurityOpt": ["seccomp=unconfined"]}, ("security option seccomp=unconfined",)),
    ({"SecurityOpt": ["apparmor=unconfined"]}, ("apparmor=unconfined",)),
    ({"SecurityOpt": ["systempaths=unconfined"]}, ("systempaths=unconfined",)),
    ({"CgroupParent": "/"}, ("CgroupParent",)),
    ({"Runtime": "io.containerd.runsc.v1"}, ("runtime io.containerd.runsc.v1",)),
    ({"MaskedPaths": []}, ("MaskedPaths",)),
    ({"ReadonlyPaths": []}, ("ReadonlyPaths",)),
    ({"VolumeDriver": "sshfs"}, ("volume drivers",)),
    ({"NetworkMode": "3f1c2a9b7d4e"}, ("by its ID",)),
])
def test_host_config_attacks_are_refused(host_config: dict[str, Any],
                                         words: tuple[str, ...]) -> None:
    assert refused(create(**host_config), *words)


def test_privileged_exec_is_refused() -> None:
    body = {"User": "", "Privileged": True, "Tty": False, "AttachStdin": False,
            "AttachStderr": True, "AttachStdout": True, "Detach": False, "DetachKeys": "",
            "Env": None, "WorkingDir": "", "Cmd": ["sh"]}
    assert refused(decide(make_request("POST", "/v1.41/containers/web/exec", body)),
                   "privileged exec")


def test_volume_create_with_driver_options_is_refused() -> None:
    body = {"Driver": "local", "DriverOpts": {"device": "/", "o": "bind", "type": "none"},
            "Name": "v1"}
    assert refused(decide(make_request("POST", "/v1.41/volumes/create", body)),
                   "volume driver options")
    other = {"Driver": "vieux/sshfs", "Name": "v2"}
    assert refused(decide(make_request("POST", "/v1.41/volumes/create", other)),
                   "volume drivers")


@pytest.mark.parametrize(("method", "uri"), [
    ("POST", "/v1.41/plugins/pull?name=&remote=docker.io%2Fvieux%2Fsshfs"),
    ("POST", "/v1.41/plugins/create?name=x"),
    ("POST", "/v1.41/plugins/vieux/sshfs/enable"),
    ("POST", "/v1.41/plugins/vieux/sshfs/set"),
    ("DELETE", "/v1.41/plugins/vieux/sshfs"),
    ("POST", "/v1.41/session"),
    ("POST", "/grpc"),
])
def test_plugin_management_and_unknown_calls_are_refused(method: str, uri: str) -> None:
    assert refused(decide(make_request(method, uri)), "the API call", method)


@pytest.mark.parametrize("query", ["networkmode=host", "networkmode=%68ost",
                                   "networkmode=default&networkmode=HOST"])
def test_build_on_the_host_network_is_refused(query: str) -> None:
    uri = f"/v1.41/build?dockerfile=Dockerfile&q=1&version=1&{query}"
    assert refused(decide(make_request("POST", uri)), "host network")


def test_build_with_a_cgroup_parent_or_a_form_body_is_refused() -> None:
    assert refused(decide(make_request("POST", "/v1.41/build?cgroupparent=%2F")),
                   "cgroupparent")
    form = make_request("POST", "/v1.41/build?remote=http://x/c.tar",
                        RequestHeaders={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused(decide(form), "form-encoded body")
    buildkit = make_request("POST", "/v1.41/build?version=2&session=abc&remote=client-session")
    assert refused(decide(buildkit), "BuildKit")


@pytest.mark.parametrize(("container_spec", "words"), [
    ({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/host"}]}, ("type bind",)),
    ({"Mounts": [{"Type": "volume", "Target": "/h", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"o": "bind", "device": "/"}}}}]}, ("driver options",)),
    ({"CapabilityAdd": ["ALL"]}, ("capabilities ALL",)),
    ({"CapabilityAdd": ["CAP_SYS_ADMIN"]}, ("SYS_ADMIN",)),
    ({"Privileges": {"CredentialSpec": {"File": "x"}}}, ("CredentialSpec",)),
    ({"Privileges": {"SELinuxContext": {"Disable": True}}}, ("SELinuxContext",)),
    ({"Privileges": {"Seccomp": {"Mode": "unconfined"}}}, ("Seccomp",)),
])
def test_service_attacks_are_refused(container_spec: dict[str, Any],
                                     words: tuple[str, ...]) -> None:
    spec = make_service(**container_spec)
    assert refused(decide(make_request("POST", "/v1.41/services/create", spec)), *words)
    update = "/v1.41/services/3etpad71z1gj4i8izkyfa41iu/update?registryAuthFrom=spec&version=11"
    assert refused(decide(make_request("POST", update, spec)), *words)


def test_plugin_services_and_the_host_network_are_refused() -> None:
    spec = make_service()
    spec["TaskTemplate"]["Runtime"] = "plugin"
    spec["TaskTemplate"]["PluginSpec"] = {"Name": "vieux/sshfs"}
    assert refused(decide(make_request("POST", "/v1.41/services/create", spec)), "plugin")
    spec = make_service()
    spec["TaskTemplate"]["Networks"] = [{"Target": "host"}]
    assert refused(decide(make_request("POST", "/v1.41/services/create", spec)),
                   "host network")


# --- the bypasses of FINDINGS section 3 ---------------------------------------------------------

@pytest.mark.parametrize("uri", ["/v1.41/containers/create", "/v1.41/services/create",
                                 "/v1.41/services/abc/update", "/v1.41/volumes/create",
                                 "/v1.41/containers/web/exec", "/v1.41/networks/create",
                                 "/v1.41/containers/web/update"])
def test_an_inspected_call_without_a_visible_body_is_refused(uri: str) -> None:
    bodyless = make_request("POST", uri,
                            RequestHeaders={"Content-Type": "text/plain"})
    assert refused(decide(bodyless), "without a JSON body")
    assert refused(decide(make_request("POST", uri, raw=b"not json")), "without a JSON body")
    deep = b"[" * 100000 + b"]" * 100000
    assert refused(decide(make_request("POST", uri, raw=deep)), "without a JSON body")


@pytest.mark.parametrize("body", [
    {"hostconfig": {"binds": ["/:/host"]}},
    {"HOSTCONFIG": {"BINDS": ["/:/host"]}},
    {"HostConfig": {"Bind\u017f": ["/:/host"]}},
    {"HostConfig": {"Binds": ["data:/data"], "binds": ["/:/host"]}},
    {"HostConfig": {"usernsmode": "host", "capadd": ["SYS_ADMIN"]}},
])
def test_json_keys_are_matched_as_go_matches_them(body: dict[str, Any]) -> None:
    decision = decide(make_request("POST", "/v1.41/containers/create", body))
    assert not decision.allow, body


def test_a_repeated_object_merges_like_go_decodes_it() -> None:
    raw = b'{"Image":"busybox","HostConfig":{"Privileged":true},"hostconfig":{"Memory":1}}'
    assert refused(decide(make_request("POST", "/v1.41/containers/create", raw=raw)),
                   "privileged")
    last = b'{"HostConfig":{"Binds":["/:/h"]},"HostConfig":{"Binds":["data:/d"]}}'
    assert decide(make_request("POST", "/v1.41/containers/create", raw=last)).allow


@pytest.mark.parametrize("uri", ["/v1.41/%63ontainers/create", "/%761.41/containers/create",
                                 "/v1.41/containers/%63reate", "//v1.41//containers/create",
                                 "/containers/create?name=x"])
def test_the_path_is_matched_as_dockerd_routes_it(uri: str) -> None:
    attack = make_request("POST", uri, make_create(Binds=["/:/host"]))
    assert refused(decide(attack), "bind mounts")


@pytest.mark.parametrize("uri", ["/v1.41/./containers/create", "/v1.41/x/../containers/create",
                                 "http://docker/v1.41/containers/create",
                                 "/V1.41/containers/create", "/v1.41/Containers/create"])
def test_paths_dockerd_would_redirect_or_not_route_are_refused(uri: str) -> None:
    assert refused(decide(make_request("POST", uri, make_create())), "the API call")


def test_host_settings_at_the_top_level_of_a_create_are_refused() -> None:
    # dockerd 20.10 takes them as the HostConfig when "HostConfig" is absent (shown on a real
    # engine: Binds=[/:/host] Privileged=true)
    body = {"Image": "busybox", "Cmd": ["true"], "Binds": ["/:/host"], "Privileged": True}
    assert refused(decide(make_request("POST", "/v1.41/containers/create", body)),
                   "privileged")
    drivers = {"Image": "busybox", "HostConfig": {}, "VolumeDriver": "sshfs"}
    assert refused(decide(make_request("POST", "/v1.41/containers/create", drivers)),
                   "volume drivers")


@pytest.mark.parametrize("version", ["1.23", "1.12", "1.39", "1..41", "0.99"])
def test_old_api_versions_are_refused(version: str) -> None:
    # before 1.24 a start body is a HostConfig that dockerd applies to the container
    start = make_request("POST", f"/v{version}/containers/web/start",
                         {"Binds": ["/:/host"], "Privileged": True})
    assert refused(decide(start), "API versions older than 1.40", version)


def test_a_start_with_a_body_is_refused() -> None:
    start = make_request("POST", "/v1.41/containers/web/start", {"Privileged": True})
    assert refused(decide(start), "host settings when a container starts")


# --- what users and the conductor do --------------------------------------------------------------

def test_docker_run_with_a_named_volume_ports_and_env_is_allowed() -> None:
    assert decide(make_request("POST", "/v1.41/containers/create?name=web", CLI_CREATE)).allow


@pytest.mark.parametrize("host_config", [
    {"Binds": ["/data"]}, {"CapAdd": ["NET_BIND_SERVICE"], "CapDrop": ["ALL"]},
    {"SecurityOpt": ["no-new-privileges:true"]}, {"Runtime": "runc"},
    {"Mounts": [{"Type": "tmpfs", "Target": "/run"}]}, {"NetworkMode": "web-net"},
    {"PidMode": "container:web"}, {"Memory": 67108864}, {"NetworkMode": "bridge"},
])
def test_ordinary_container_settings_are_allowed(host_config: dict[str, Any]) -> None:
    assert create(**host_config).allow


def test_the_sdk_create_of_the_conductor_is_allowed() -> None:
    # docker-py containers.create(image, command, name, environment, mem_limit, labels)
    body = {"Image": "magna/busybox:latest", "Cmd": ["httpd", "-f"], "Env": ["A=1"],
            "Labels": {"magna.container": "u1", "magna.cluster": "c1"},
            "Tty": False, "OpenStdin": False, "StdinOnce": False, "AttachStdin": False,
            "AttachStdout": False, "AttachStderr": False, "NetworkDisabled": False,
            "HostConfig": {"NetworkMode": "default", "Memory": 67108864}}
    assert decide(make_request("POST", "/v1.43/containers/create?name=m-1", body)).allow


def test_service_create_with_a_volume_and_host_mode_ports_is_allowed() -> None:
    spec = make_service()
    assert decide(make_request("POST", "/v1.41/services/create", spec)).allow
    update = "/v1.41/services/3etpad71z1gj4i8izkyfa41iu/update?version=11"
    assert decide(make_request("POST", update, spec)).allow


@pytest.mark.parametrize(("method", "uri", "body"), [
    ("POST", "/v1.41/containers/web/exec", {"User": "", "Privileged": False, "Tty": False,
                                            "AttachStdout": True, "AttachStderr": True,
                                            "Cmd": ["ls"]}),
    ("POST", "/v1.41/exec/198079a8064d/start", {"Detach": False, "Tty": False}),
    ("GET", "/v1.41/exec/198079a8064d/json", None),
    ("GET", "/v1.41/containers/web/logs?stderr=1&stdout=1&tail=all", None),
    ("POST", "/v1.41/containers/web/attach?stderr=1&stdout=1&stream=1", None),
    ("POST", "/v1.41/containers/web/start", None),
    ("POST", "/v1.40/containers/web/start", None),
    ("POST", "/v1.45/containers/web/start?detachKeys=ctrl-p", None),
    ("POST", "/v1.41/containers/web/stop?t=10", None),
    ("POST", "/v1.41/containers/web/kill", None),
    ("POST", "/v1.41/containers/web/wait?condition=removed", None),
    ("DELETE", "/v1.41/containers/web?force=1", None),
    ("GET", "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22m%22%5D%7D", None),
    ("GET", "/v1.41/events?filters=%7B%7D", None),
    ("HEAD", "/_ping", None), ("GET", "/_ping", None), ("GET", "/v1.41/version", None),
    ("GET", "/v1.41/info", None),
    ("POST", "/v1.41/swarm/init", {"ListenAddr": "10.1.0.2:2377",
                                   "AdvertiseAddr": "10.1.0.2", "ForceNewCluster": False}),
    ("POST", "/v1.41/swarm/join", {"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "",
                                   "DataPathAddr": "", "RemoteAddrs": ["10.0.0.1:2377"],
                                   "JoinToken": "SWMTKN-1-abc", "Availability": ""}),
    ("POST", "/v1.41/swarm/leave?force=1", None),
    ("GET", "/v1.41/swarm", None),
    ("GET", "/v1.41/nodes?filters=%7B%22role%22%3A%7B%22manager%22%3Atrue%7D%7D", None),
    ("POST", "/v1.41/nodes/sjktwrjo9x7tvn3un4tv41el2/update?version=12",
     {"Role": "worker", "Availability": "drain", "Labels": {"zone": "a"}}),
    ("DELETE", "/v1.41/nodes/sjktwrjo9x7tvn3un4tv41el2?force=1", None),
    ("GET", "/v1.41/tasks?filters=%7B%22node%22%3A%5B%22n1%22%5D%7D", None),
    ("POST", "/v1.41/images/create?fromImage=busybox&tag=latest", None),
    ("POST", "/v1.41/images/create?fromSrc=-&repo=magna%2Fbusybox&tag=latest", None),
    ("POST", "/v1.41/images/load?quiet=1", None),
    ("GET", f"/v1.41/images/{IMAGE}/json", None),
    ("GET", "/v1.41/images/magna/busybox:latest/json", None),
    ("POST", "/v1.41/images/magna/busybox:latest/tag?repo=192.168.77.1%3A5000%2Fmagna%2F"
             "busybox&tag=latest", None),
    ("POST", "/v1.41/images/192.168.77.1:5000/magna/busybox/push?tag=latest", None),
    ("DELETE", "/v1.41/images/busybox:latest", None),
    ("GET", f"/v1.41/distribution/{IMAGE}/json", None),
    ("POST", "/v1.41/build?dockerfile=Dockerfile&q=1&version=1", None),
    ("POST", "/v1.41/volumes/create", {"Driver": "local", "Name": "v2"}),
    ("POST", "/v1.41/volumes/create", {"Name": "v3", "Labels": {}}),
    ("POST", "/v1.41/networks/create", {"Driver": "overlay", "Name": "ov", "Options": {},
                                        "IPAM": {"Driver": "default", "Config": []}}),
    ("POST", "/v1.41/networks/ov/connect", {"Container": "web"}),
    ("POST", "/v1.41/secrets/create", {"Name": "s", "Data": "eA=="}),
    ("GET", "/v1.41/services/web/logs?stdout=1", None),
    ("GET", "/v1.41/plugins", None),
])
def test_ordinary_calls_are_allowed(method: str, uri: str, body: Any) -> None:
    decision = decide(make_request(method, uri, body))
    assert decision == Decision(allow=True), decision.message
