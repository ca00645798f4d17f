"""The API benchmark's load generator: ``wrk`` (Debian's package) driven by a Lua script.

The load runs on the same two cores as the API workers, so its own CPU is taken from them.
An async Python client (httpx) spent about as much CPU per request as a worker did: against
one server, a list of 50 at concurrency 16 gave 274 requests/s through it and 498 through wrk.
wrk is C on one event loop; one thread holds all the connections here.

Every run is bounded in time (wrk's ``-d``); requests/s is the answers over that time. A 1 s
warm-up run, not measured, opens the connections and warms the workers' caches first.
Latency is wrk's, per request, from sending to the whole answer, in its histogram
(microsecond resolution).
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEADERS = {"OpenStack-API-Version": "container-infra latest",
           "Content-Type": "application/json"}
MARK = "WRK-RESULT "

# NOTE: request() picks a path (several: one at random) and numbers the body ("{n}" becomes
# the request's number, so created names are unique); response() counts the answers that do
# not have the expected status and keeps the first; done() reads each thread's counts.
SCRIPT = """
local paths = {%(paths)s}
local body = %(body)s
local expect = %(expect)d
local threads = {}
unexpected, sample, sent = 0, "", 0
wrk.method = "%(method)s"
%(headers)s
function setup(thread) table.insert(threads, thread) end
function init(args) math.randomseed(%(seed)d) end
function request()
  sent = sent + 1
  local filled = nil
  if body then filled = (string.gsub(body, "{n}", tostring(sent))) end
  return wrk.format(nil, paths[math.random(#paths)], nil, filled)
end
function response(status, headers, answer)
  if status ~= expect then
    unexpected = unexpected + 1
    if sample == "" then
      sample = (string.gsub(status .. " " .. string.sub(answer or "", 1, 200), '[%%c"\\\\]', " "))
    end
  end
end
function done(summary, latency, requests)
  local bad, first = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    if first == "" then first = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests": %%d, "duration_us": %%d, "unexpected": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, "sample": "%%s"}\\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    first))
end
"""


@dataclass
class Scenario:
    """One kind of request: a method, the paths to pick from at random, an optional JSON body
    in which ``{n}`` is replaced by the request's number, the status every answer should
    have, and headers sent besides ``HEADERS`` (an identity, for a server that wants one)."""

    name: str
    method: str
    paths: tuple[str, ...]
    body: str | None = None
    expect: int = 200
    headers: tuple[tuple[str, str], ...] = ()


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def script(scenario: Scenario, seed: int) -> str:
    headers = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}"
                        for k, v in {**HEADERS, **dict(scenario.headers)}.items())
    return SCRIPT % {
        "paths": ", ".join(_lua_string(p) for p in scenario.paths),
        "body": "nil" if scenario.body is None else _lua_string(scenario.body),
        "expect": scenario.expect, "method": scenario.method,
        "headers": headers, "seed": seed, "mark": MARK}


def _wrk(base_url: str, scenario: Scenario, concurrency: int, seconds: float
         ) -> dict[str, Any]:
    if scenario.body is not None:  # names unique across runs, warm-ups included
        scenario = dataclasses.replace(scenario, body=scenario.body.replace(
            "{n}", f"{uuid.uuid4().hex[:8]}-{{n}}"))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="magna-bench-") as handle:
        handle.write(script(scenario, random.randrange(1 << 30)))
        handle.flush()
        done = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout",
             "60s", "-s", handle.name, base_url + scenario.paths[0]],
            capture_output=True, text=True, timeout=seconds + 120, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line[len(MARK):])
            return result
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}): "
                       f"{(done.stderr or done.stdout)[-500:]}")


def run(base_url: str, scenario: Scenario, concurrency: int, seconds: float, *,
        settle: Callable[[], None] | None = None) -> dict[str, Any]:
    """Warm up, then measure; requests/s and p50/p95/p99/max in milliseconds. ``settle``,
    when given, is called before the warm-up and before the measured run: wrk leaves the
    requests in flight when its time is up, and a server that cannot tell (a sync WSGI worker
    answers a client that has gone) would still be busy with them when the next run starts."""
    if not available():
        raise RuntimeError("the API benchmark needs wrk: apt-get install wrk (./dev bench "
                           "installs it)")
    quiet = settle or (lambda: None)
    quiet()
    _wrk(base_url, scenario, concurrency, 1)
    quiet()
    raw = _wrk(base_url, scenario, concurrency, seconds)
    elapsed = raw["duration_us"] / 1e6
    return {
        "concurrency": concurrency, "requests": raw["requests"],
        "errors": raw["unexpected"] + raw["socket_errors"], "elapsed_s": round(elapsed, 3),
        "rps": round(raw["requests"] / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": raw["p50_us"] / 1000, "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
        "sample_failures": [raw["sample"]] if raw["sample"] else [],
        "load_generator": "wrk"}
