"""Shared helpers for the herd benchmarks: start/stop herd and etcd on loopback, drive wrk, print tables.

Every process a benchmark starts is stopped, and every temporary directory removed, when its `with`
block ends (also on Ctrl-C or an exception). All traffic goes to 127.0.0.1.
"""

import base64
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
HERD_BIN = os.environ.get("HERD_BIN", os.path.join(REPO, ".build", "release", "herd"))
ETCD_BIN = os.environ.get("ETCD_BIN", "etcd")
HOST = "127.0.0.1"
POD_SIZE = 2048  # bytes of the request body of one pod create


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# `timeout` and kill send SIGTERM: turn it into an exception so the `with` blocks stop the servers.
signal.signal(signal.SIGTERM, _exit_on_sigterm)


# ---------------------------------------------------------------- machine state

def loadavg():
    """The 1-minute load average, reported beside every result: other builds share this machine."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def rss_mb(pid):
    """Resident set size of a process in MiB, from /proc/PID/status VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid):
    """User+system CPU seconds a process has used so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- processes

def _wait_http(url, proc, log_path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; log:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout}s; log:\n{_tail(log_path)}")


def wait_node_ready(url, node, proc, log_path, timeout=90.0):
    """Until `node` is Ready with a pod CIDR (a real agent, in `proc`, has set up its pod network)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} {proc.args[1]} exited with {proc.returncode}; log:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/nodes/{node}", timeout=5) as r:
                obj = json.loads(r.read())
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))
            if ready and obj.get("spec", {}).get("podCIDR"):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"node {node} not Ready in {timeout:.0f} s; log:\n{_tail(log_path)}")


def remove_node_leftovers(node, blackholes=()):
    """What a real node leaves on the host when it stops (by design, so its pods keep their network across
    agent restarts): its bridge ("herd" + FNV-1a of the node name folded to 32 bits), the drop routes for
    unassigned addresses and its empty cgroups."""
    h = 0xcbf29ce484222325
    for b in node.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    subprocess.run(["ip", "link", "delete", "herd%08x" % ((h ^ (h >> 32)) & 0xFFFFFFFF)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for cidr in blackholes:
        subprocess.run(["ip", "route", "delete", "blackhole", cidr], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for root in glob.glob(f"/sys/fs/cgroup/*/herd/{node}") + glob.glob(f"/sys/fs/cgroup/herd/{node}"):
        for d, _, _ in sorted(os.walk(root), key=lambda w: -len(w[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass


def unmount_under(directory):
    """Lazily unmounts what a node left mounted under its data directory (the runtime's state tmpfs when a
    pod was left, memory-backed volumes), deepest first."""
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return
    for point in sorted((p for p in points if p == directory or p.startswith(directory + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class _Process:
    """A server process with its own temporary directory; stopped and removed on exit."""

    name = "process"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix=f"bench-{self.name}-")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def _spawn(self, argv):
        log = open(self.log_path, "wb")
        # own process group, so stopping it cannot touch anything else
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.environ.get("BENCH_KEEP_LOGS"):
            shutil.copy(self.log_path, f"/tmp/bench-{self.name}-{os.getpid()}-{int(time.time())}.log")
        unmount_under(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


class Herd(_Process):
    """`herd server --disable-agent` on a fresh data directory and a free loopback port.

    controllers=False adds --disable-controllers: the API server and store alone, as etcd is alone. Without
    it the in-process scheduler answers every pod of a node-less cluster with a PodScheduled=False status
    write, so each create costs a second write that the etcd side does not have."""

    name = "herd"

    def __init__(self, controllers=True):
        super().__init__()
        self.controllers = controllers

    def start(self):
        self.port = free_port()
        self._spawn([HERD_BIN, "server", "--data-dir", self.dir, "--port", str(self.port), "--disable-agent",
                     "--log-level", os.environ.get("HERD_LOG_LEVEL", "notice")]
                    + ([] if self.controllers else ["--disable-controllers"]))
        self.url = f"http://{HOST}:{self.port}"
        _wait_http(self.url + "/api/v1/namespaces/default", self.proc, self.log_path)

    def resource_version(self, path="/api/v1/namespaces/default/pods?limit=1"):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.load(r)["metadata"]["resourceVersion"]

    def settled_pod_count(self):
        """The pod count once creates still in flight when wrk stopped (up to its connections - 1) land."""
        last = self.count_pods()
        for _ in range(20):
            time.sleep(0.5)
            now = self.count_pods()
            if now == last:
                return now
            last = now
        raise RuntimeError("pod count still changing after 10 s")

    def count_pods(self):
        with urllib.request.urlopen(self.url + "/api/v1/namespaces/default/pods", timeout=120) as r:
            return len(json.load(r)["items"])


class Etcd(_Process):
    """A single-member etcd 3.4 on fresh data directory and free loopback ports (client and peer)."""

    name = "etcd"

    def start(self):
        self.port, peer = free_port(), free_port()
        self.url = f"http://{HOST}:{self.port}"
        peer_url = f"http://{HOST}:{peer}"
        self._spawn([ETCD_BIN, "--name", "bench", "--data-dir", os.path.join(self.dir, "data"),
                     "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                     "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                     "--initial-cluster", f"bench={peer_url}"])
        _wait_http(self.url + "/health", self.proc, self.log_path)


# ---------------------------------------------------------------- payloads

def pod_body(generate_name="bench-", name=None, annotations=None, size=POD_SIZE):
    """A realistic pod as JSON bytes, padded with an annotation to exactly `size` bytes."""
    meta = {"labels": {"app": "bench", "tier": "web", "pod-template-hash": "5d8f7c9b6"},
            "annotations": dict(annotations or {})}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {
            "containers": [{
                "name": "web", "image": "registry.example.com/team/web:1.27.3",
                "command": ["/bin/web"], "args": ["--listen=:8080", "--log-level=info"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": f"SETTING_{i}", "value": f"value-{i}"} for i in range(6)],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }
    meta["annotations"]["bench/pad"] = ""
    pad = size - len(json.dumps(pod, separators=(",", ":")))
    if pad < 0:
        raise ValueError(f"pod is already {len(raw)} bytes, more than {size}")
    meta["annotations"]["bench/pad"] = "x" * pad
    raw = json.dumps(pod, separators=(",", ":")).encode()
    assert len(raw) == size, len(raw)
    return raw


def create_one(url, body):
    """POST one pod and return the stored object as bytes (what the server keeps for it)."""
    req = urllib.request.Request(url + "/api/v1/namespaces/default/pods", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


# ---------------------------------------------------------------- wrk

# wrk runs for its whole -d duration even when every thread has stopped, so the one thread that sends
# the requests ends the run itself at the count: tgkill(SIGINT) to wrk's main thread cuts its sleep short,
# and wrk then prints its summary with the real elapsed time.
_WRK_COMMON = r"""
local ffi = require("ffi")
ffi.cdef[[ int getpid(void); int tgkill(int tgid, int tid, int sig); ]]
local target = tonumber(os.getenv("BENCH_N"))
local done_count = 0
local bad = {}
function response(status, headers, body)
  done_count = done_count + 1
  if status > 299 and #bad < 20 then
    bad[#bad + 1] = status
    io.write("BENCH_FAILED " .. status .. " " .. body:sub(1, 300):gsub("\n", " ") .. "\n")
  end
  if done_count == target then
    wrk.thread:stop()
    local pid = ffi.C.getpid()
    ffi.C.tgkill(pid, pid, 2)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

# herd: the same pod body every time; generateName gives every create a new name.
WRK_HERD_CREATE = r"""
wrk.method = "POST"
wrk.path = "/api/v1/namespaces/default/pods"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("BENCH_BODY_FILE"), "rb"):read("*a")
""" + _WRK_COMMON

# etcd: a put through the v3 JSON gateway, a new key per request (thread id + counter), fixed value.
WRK_ETCD_PUT = r"""
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  return ((s:gsub(".", function(c)
    local r, b = "", c:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end
local value = io.open(os.getenv("BENCH_VALUE_B64_FILE"), "rb"):read("*a")
local headers = { ["Content-Type"] = "application/json" }
local tid = 0
local seq = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", tostring(threads))
end
function init(args)
  tid = wrk.thread:get("tid")
end
function request()
  seq = seq + 1
  local key = b64("/registry/pods/default/bench-" .. tid .. "-" .. seq)
  return wrk.format("POST", "/v3/kv/put", headers, '{"key":"' .. key .. '","value":"' .. value .. '"}')
end
""" + _WRK_COMMON


def run_wrk(url, script, env, n, connections=16, max_seconds=300):
    """Send `n` requests over `connections` keep-alive connections (one wrk thread: one thread can count
    them all); stops at n or after max_seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as d:
        path = os.path.join(d, "load.lua")
        with open(path, "w") as f:
            f.write(script)
        full_env = dict(os.environ, BENCH_N=str(n), **env)
        out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{max_seconds}s",
                              "--timeout", "30s", "-s", path, url],
                             env=full_env, capture_output=True, text=True, timeout=max_seconds + 60)
    m = re.search(r"BENCH_RESULT (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    r["failed_samples"] = re.findall(r"BENCH_FAILED (.*)", out.stdout)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["failures"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return r


def fill_pods(herd, n, body=None):
    """Create `n` pods (about POD_SIZE bytes each) in herd's default namespace as fast as wrk can."""
    with tempfile.NamedTemporaryFile(prefix="bench-pod-", suffix=".json") as f:
        f.write(body or pod_body())
        f.flush()
        r = run_wrk(herd.url, WRK_HERD_CREATE, {"BENCH_BODY_FILE": f.name}, n)
    # 409 AlreadyExists is a generateName collision (see RESULTS.md), anything else is a real failure
    collisions = sum(1 for s in r["failed_samples"] if s.startswith("409 "))
    if r["failures"] > collisions:
        raise RuntimeError(f"fill: {r['failures']} failed creates: {r}")
    r["collisions"] = r["failures"]
    stored = herd.settled_pod_count()
    for _ in range(max(0, n - stored)):
        create_one(herd.url, body or pod_body())
    r["stored"] = herd.settled_pod_count() if stored < n else stored
    return r


def b64(data):
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- reporting

def median(xs):
    return statistics.median(xs)


def percentile(sorted_xs, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_xs:
        return float("nan")
    k = max(0, min(len(sorted_xs) - 1, int(round(p / 100 * len(sorted_xs) + 0.5)) - 1))
    return sorted_xs[k]


def table(headers, rows):
    """A Markdown table (pastes straight into RESULTS.md)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def banner(title, argv):
    print(f"## {title}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, cores: {os.cpu_count()}, "
          f"load average at start: {loadavg():.2f}")
    print(f"herd binary: {HERD_BIN}")
    print("command: " + " ".join(argv))
    print()


# Runs inside a node's network namespace (`python3 -c NETNS_LOAD url seconds threads rate timeout`): `threads`
# threads, each sending at most `rate` GETs per second for `seconds`, each a new connection with `timeout`.
# Prints one JSON document: [start, end, outcome] per request, the outcome being the response body or
# "ERR-<exception name>" (a URLError with its reason's: "ERR-URLError(ConnectionRefusedError)").
NETNS_LOAD = r"""
import json, sys, threading, time, urllib.request
url, seconds, threads, rate, timeout = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
results, lock = [], threading.Lock()
end = time.time() + seconds
def worker():
    mine = []
    nxt = time.time()
    while True:
        now = time.time()
        if now >= end:
            break
        if now < nxt:
            time.sleep(nxt - now)
        nxt = max(nxt + 1.0 / rate, time.time())
        t0 = time.time()
        try:
            body = urllib.request.urlopen(url, timeout=timeout).read().decode(errors="replace").strip()
            mine.append((t0, time.time(), body))
        except Exception as e:
            # a URLError's reason tells a refused or unreachable connection from a timeout
            reason = getattr(e, "reason", None)
            mine.append((t0, time.time(), "ERR-" + type(e).__name__ + (f"({type(reason).__name__})" if isinstance(reason, BaseException) else "")))
    with lock:
        results.extend(mine)
ts = [threading.Thread(target=worker) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(results))
"""
