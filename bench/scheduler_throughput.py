#!/usr/bin/env python3
"""Issue 3 goal: pods created and bound per second, end to end, >= 1,500 pods/s with 1,000 nodes and a
ReplicaSet scaled to 10,000 replicas (upstream scheduler_perf floors: 680-810 pods/s at 5,000 nodes).

Each run starts a fresh `herd server` (API server + built-in scheduler and controllers, SQLite store) and one
`herd agent --simulate --count N` process for the nodes, waits until every node is Ready, creates a
ReplicaSet with 0 replicas, opens a pod watch, then scales the ReplicaSet to the target with one PATCH of
spec.replicas. From that request the watch stamps when the target number of pods exist (created by the
ReplicaSet controller), have spec.nodeName (bound by the scheduler) and are Running (reported by the
simulated nodes). pods/s = pods / seconds from the scale request. Also reported: VmRSS and CPU seconds of
the server and the agent, and how evenly pods spread over nodes.

Heartbeats use upstream's default timings (lease renewed every 10 s, node-monitor-grace-period 40 s) and
node status every 60 s (upstream reports unchanged node status every 5 min), so 1,000-5,000 nodes do not
turn the benchmark into a heartbeat benchmark; --lease-renew-interval etc. change them.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import lib

GOAL = 1500
RS_PATH = "/apis/apps/v1/namespaces/default/replicasets"
# A pod network with a /24 for each of up to 32,768 nodes: the default 10.42.0.0/16 has 256, and the node IPAM
# controller would retry (and record CIDRNotAvailable for) every other node at each of its status posts.
CLUSTER_CIDR = "10.128.0.0/9"


class ControlPlane(lib.Herd):
    """`herd server` with its scheduler and controllers (lib.Herd's flags plus the node grace period)."""

    name = "herd-control-plane"

    def __init__(self, grace):
        super().__init__()
        self.grace = grace

    def start(self):
        self.port = lib.free_port()
        self._spawn([lib.HERD_BIN, "server", "--data-dir", self.dir, "--port", str(self.port), "--disable-agent",
                     "--node-monitor-grace-period", str(self.grace), "--cluster-cidr", CLUSTER_CIDR,
                     "--log-level", os.environ.get("HERD_LOG_LEVEL", "notice")])
        self.url = f"http://{lib.HOST}:{self.port}"
        lib._wait_http(self.url + "/api/v1/namespaces/default", self.proc, self.log_path)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig.yaml")
        deadline = time.monotonic() + 30
        while not os.path.exists(self.kubeconfig):
            if time.monotonic() > deadline:
                raise RuntimeError("herd server wrote no kubeconfig")
            time.sleep(0.05)


class Agent(lib._Process):
    """`herd agent --simulate --count N` against a control plane; started when its nodes are registered."""

    name = "herd-agent"

    def __init__(self, plane, count, lease, status, workers):
        super().__init__()
        self.plane, self.count, self.lease, self.status, self.workers = plane, count, lease, status, workers

    def start(self):
        self._spawn([lib.HERD_BIN, "agent", "--simulate", "--kubeconfig", self.plane.kubeconfig,
                     "--count", str(self.count), "--node-name", "bench",
                     "--lease-renew-interval", str(self.lease), "--node-status-update-interval", str(self.status),
                     "--pod-workers", str(self.workers),
                     "--log-level", os.environ.get("HERD_LOG_LEVEL", "notice")])
        deadline = time.monotonic() + 60 + self.count / 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"herd agent exited with {self.proc.returncode}; log:\n{lib._tail(self.log_path)}")
            with open(self.log_path, errors="replace") as f:
                if "registered" in f.read():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"herd agent did not register {self.count} nodes in time; log:\n{lib._tail(self.log_path)}")
            time.sleep(0.2)


def get_json(url, path, timeout=120):
    with urllib.request.urlopen(url + path, timeout=timeout) as r:
        return json.load(r)


def send_json(url, method, path, body, content_type="application/json"):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def ready_nodes(url):
    nodes = get_json(url, "/api/v1/nodes")["items"]
    return sum(1 for n in nodes
               if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", [])))


def replicaset(replicas):
    """lib's 2 KB pod (cpu 100m, memory 128Mi requests) as the template of a ReplicaSet."""
    pod = json.loads(lib.pod_body(name="x"))
    labels = {"app": "bench", "tier": "web"}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "bench", "namespace": "default", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels, "annotations": pod["metadata"]["annotations"]},
                                  "spec": pod["spec"]}}}


class PodWatch(threading.Thread):
    """One watch of the default namespace's pods: stamps (monotonic) when each pod is first seen, first seen
    bound, first seen Running and first seen Ready, and which node it went to."""

    def __init__(self, url, resource_version):
        super().__init__(daemon=True)
        host, port = url.split("//")[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=3600)
        self.path = (f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={resource_version}"
                     "&timeoutSeconds=3600")
        self.created, self.bound, self.running, self.ready, self.node = {}, {}, {}, {}, {}
        self.lock = threading.Lock()
        self.error = None
        self.stopping = False

    def run(self):
        try:
            self.conn.request("GET", self.path)
            resp = self.conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"watch: HTTP {resp.status}: {resp.read()[:300]!r}")
            while not self.stopping:
                line = resp.readline()
                if not line:
                    raise RuntimeError("watch ended")
                now = time.monotonic()
                ev = json.loads(line)
                if ev["type"] not in ("ADDED", "MODIFIED"):
                    continue
                obj = ev["object"]
                name = obj["metadata"]["name"]
                with self.lock:
                    self.created.setdefault(name, now)
                    node = obj.get("spec", {}).get("nodeName")
                    if node:
                        self.bound.setdefault(name, now)
                        self.node[name] = node
                    if obj.get("status", {}).get("phase") == "Running":
                        self.running.setdefault(name, now)
                    if any(c.get("type") == "Ready" and c.get("status") == "True"
                           for c in obj.get("status", {}).get("conditions") or []):
                        self.ready.setdefault(name, now)
        except Exception as e:  # reported by the main thread
            if not self.stopping:
                self.error = e

    def counts(self):
        with self.lock:
            return len(self.created), len(self.bound), len(self.running)

    def nth(self, stamps, n):
        """When the n-th pod reached a state (None if fewer did)."""
        with self.lock:
            times = sorted(stamps.values())
        return times[n - 1] if len(times) >= n else None

    def stop(self):
        self.stopping = True
        try:
            self.conn.sock and self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


class DirectCreates(threading.Thread):
    """--direct: lib's wrk create load (16 connections, generateName pods) instead of a ReplicaSet."""

    def __init__(self, url, n):
        super().__init__(daemon=True)
        self.url, self.n, self.error, self.result = url, n, None, None

    def run(self):
        try:
            with tempfile.NamedTemporaryFile(prefix="bench-pod-", suffix=".json") as f:
                f.write(lib.pod_body())
                f.flush()
                self.result = lib.run_wrk(self.url, lib.WRK_HERD_CREATE, {"BENCH_BODY_FILE": f.name}, self.n)
            if self.result["failures"]:
                self.error = f"{self.result['failures']} failed creates: {self.result['failed_samples'][:3]}"
        except Exception as e:  # reported by the main thread
            self.error = e


def run_once(a):
    with ControlPlane(a.grace) as plane:
        t_agent = time.monotonic()
        with Agent(plane, a.nodes, a.lease_renew_interval, a.node_status_update_interval, a.pod_workers) as agent:
            registered_s = time.monotonic() - t_agent
            deadline = time.monotonic() + 120
            while ready_nodes(plane.url) < a.nodes:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {ready_nodes(plane.url)} of {a.nodes} nodes Ready")
                time.sleep(0.5)
            print(f"    {a.nodes} nodes Ready {time.monotonic() - t_agent:.1f} s after the agent started "
                  f"(registered in {registered_s:.1f} s)", flush=True)
            if a.direct:
                watch = PodWatch(plane.url, plane.resource_version())
            else:
                rs = send_json(plane.url, "POST", RS_PATH, replicaset(0))
                watch = PodWatch(plane.url, rs["metadata"]["resourceVersion"])
            watch.start()
            time.sleep(1)  # the watch is open and the controllers have seen the ReplicaSet
            cpu0 = {"server": lib.cpu_seconds(plane.pid), "agent": lib.cpu_seconds(agent.pid)}
            load = lib.loadavg()
            creator = None
            t0 = time.monotonic()
            if a.direct:
                creator = DirectCreates(plane.url, a.pods)
                creator.start()
            else:
                send_json(plane.url, "PATCH", f"{RS_PATH}/bench", {"spec": {"replicas": a.pods}},
                          "application/merge-patch+json")
            deadline = t0 + a.timeout
            last_print = t0
            while time.monotonic() < deadline:
                if watch.error:
                    raise RuntimeError(f"pod watch failed: {watch.error}")
                created, bound, running = watch.counts()
                if running >= a.pods:
                    break
                if time.monotonic() - last_print >= 10:
                    last_print = time.monotonic()
                    print(f"    t+{last_print - t0:.0f}s: {created} created, {bound} bound, {running} running", flush=True)
                time.sleep(0.2)
            t_end = time.monotonic()
            created, bound, running = watch.counts()
            server_rss, agent_rss = lib.rss_mb(plane.pid), lib.rss_mb(agent.pid)
            cpu = {"server": lib.cpu_seconds(plane.pid) - cpu0["server"], "agent": lib.cpu_seconds(agent.pid) - cpu0["agent"]}
            t_created, t_bound, t_running = (watch.nth(s, a.pods) for s in (watch.created, watch.bound, watch.running))
            per_node = {}
            with watch.lock:
                for n in watch.node.values():
                    per_node[n] = per_node.get(n, 0) + 1
            watch.stop()
            if creator:
                creator.join(timeout=60)
                if creator.error:
                    raise RuntimeError(f"direct creates failed: {creator.error}")
            spread = [per_node.get(f"bench-{i}", 0) for i in range(a.nodes)] if a.nodes > 1 else [len(watch.node)]

            def rate(t):
                return a.pods / (t - t0) if t else None

            return {"created_s": t_created and t_created - t0, "bound_s": t_bound and t_bound - t0,
                    "running_s": t_running and t_running - t0, "created_rate": rate(t_created),
                    "bound_rate": rate(t_bound), "running_rate": rate(t_running),
                    "created": created, "bound": bound, "running": running, "elapsed": t_end - t0,
                    "server_rss": server_rss, "agent_rss": agent_rss, "server_cpu": cpu["server"],
                    "agent_cpu": cpu["agent"], "min_per_node": min(spread), "max_per_node": max(spread), "load": load}


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeout", type=float, default=600, help="seconds from the scale request to give up")
    p.add_argument("--lease-renew-interval", type=float, default=10)
    p.add_argument("--node-status-update-interval", type=float, default=60)
    p.add_argument("--grace", type=float, default=40, help="herd server --node-monitor-grace-period")
    p.add_argument("--pod-workers", type=int, default=16, help="herd agent --pod-workers")
    p.add_argument("--direct", action="store_true",
                   help="create the pods directly (lib's wrk load: 16 connections, generateName) instead of scaling a "
                        "ReplicaSet: the scheduler and the nodes without the ReplicaSet controller")
    a = p.parse_args()
    how = f"{a.pods} pods created directly (wrk)" if a.direct else f"ReplicaSet scaled 0 -> {a.pods}"
    lib.banner(f"Scheduling throughput: {a.nodes} simulated nodes, {how}",
               ["bench/scheduler_throughput.py"] + sys.argv[1:])

    results = []
    for i in range(a.runs):
        print(f"  run {i + 1}:", flush=True)
        r = run_once(a)
        r["run"] = i + 1
        results.append(r)
        print(f"  run {i + 1}: {r['created']} created / {r['bound']} bound / {r['running']} running; "
              f"bound {fmt(r['bound_rate'], '.0f')} pods/s, running {fmt(r['running_rate'], '.0f')} pods/s; "
              f"server {r['server_rss']:.0f} MiB, agent {r['agent_rss']:.0f} MiB; load {r['load']:.2f}", flush=True)

    rows = [[r["run"], fmt(r["created_s"]), fmt(r["bound_s"]), fmt(r["running_s"]), fmt(r["bound_rate"], ".0f"),
             fmt(r["running_rate"], ".0f"), f"{r['bound']}/{r['running']}", f"{r['min_per_node']}-{r['max_per_node']}",
             f"{r['server_rss']:.0f}", f"{r['agent_rss']:.0f}", f"{r['server_cpu']:.0f}", f"{r['agent_cpu']:.0f}",
             f"{r['load']:.2f}"] for r in results]
    print()
    print(lib.table(["run", "all created s", "all bound s", "all Running s", "bound pods/s", "Running pods/s",
                     "bound/Running", "pods per node", "server RSS MiB", "agent RSS MiB", "server CPU s",
                     "agent CPU s", "load avg"], rows))
    print()
    complete = [r for r in results if r["bound_rate"]]
    if complete:
        bound = lib.median([r["bound_rate"] for r in complete])
        running = [r["running_rate"] for r in complete if r["running_rate"]]
        print(f"created and bound (median of {len(complete)} complete runs): {bound:.0f} pods/s = "
              f"{bound / GOAL:.2f}x the {GOAL} pods/s goal: {'MET' if bound >= GOAL else 'MISSED'}")
        if running:
            print(f"until Running: {lib.median(running):.0f} pods/s")
        print(f"server RSS at the end (median): {lib.median([r['server_rss'] for r in complete]):.0f} MiB")
    else:
        print(f"no run bound all {a.pods} pods within {a.timeout:.0f} s")
    print(f"load average at end: {lib.loadavg():.2f}")


if __name__ == "__main__":
    main()
