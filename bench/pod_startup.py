#!/usr/bin/env python3
"""Issue 4 goals: 100 pods created at once on one real node, time from create to Ready as seen by a watch,
p99 <= 1 s (upstream SLO: p99 <= 5 s); the agent's RSS when idle <= 40 MB.

Each run starts a fresh `herd server --disable-agent` (API server, scheduler, controllers) and one real
`herd agent` process (root: namespaces, cgroups, a bridge and a veth per pod), waits for its node to be
Ready, measures the agent's VmRSS (idle), opens a pod watch, then creates 100 pods from 16 threads. Each
pod runs `sleep` in its own sandbox; the watch stamps when each becomes Ready. Latency = Ready stamp minus
the moment its create request was sent. The pods are deleted at the end of the run and the agent stopped;
the agent removes what it made.
"""

import argparse
import concurrent.futures
import os
import sys
import threading
import time
import urllib.request

import lib
from scheduler_throughput import ControlPlane, PodWatch, get_json, send_json

GOAL_P99_MS = 1000
GOAL_RSS_MB = 40


class RealAgent(lib._Process):
    """`herd agent` (a real node) against a control plane; started when its node is Ready."""

    name = "herd-agent"

    def __init__(self, plane, node):
        super().__init__()
        self.plane, self.node = plane, node

    def start(self):
        self._spawn([lib.HERD_BIN, "agent", "--kubeconfig", self.plane.kubeconfig, "--node-name", self.node,
                     "--data-dir", os.path.join(self.dir, "data"), "--kubelet-port", "0",
                     "--log-level", os.environ.get("HERD_LOG_LEVEL", "notice")])
        lib.wait_node_ready(self.plane.url, self.node, self.proc, self.log_path, timeout=60)

    def stop(self):
        # SIGTERM: the agent leaves its pods running by design, so run_once deletes them first; what stays is
        # the node's (empty) cgroup directories
        super().stop()
        # its pod range is the server's default
        lib.remove_node_leftovers(self.node, blackholes=("10.42.0.0/16", "10.43.0.0/16"))


def tree_cpu_seconds(pid):
    """CPU seconds of a process and of its children it has reaped (the agent's `ip` runs, shim launchers)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def pod(name, run):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "startup", "run": str(run)}},
            "spec": {"containers": [{"name": "app", "image": "host", "command": ["/bin/sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                     "terminationGracePeriodSeconds": 1}}


def run_once(run, n, threads):
    with ControlPlane(6) as plane:
        with RealAgent(plane, f"startup-{run}") as agent:
            time.sleep(3)  # settle: first status posts, informers synced
            idle_rss = lib.rss_mb(agent.pid)
            rv = get_json(plane.url, "/api/v1/namespaces/default/pods?limit=1")["metadata"]["resourceVersion"]
            watch = PodWatch(plane.url, rv)
            watch.start()
            sent = {}
            lock = threading.Lock()

            def create(i):
                name = f"p{run}-{i:03d}"
                with lock:
                    sent[name] = time.monotonic()
                send_json(plane.url, "POST", "/api/v1/namespaces/default/pods", pod(name, run))

            load = lib.loadavg()
            cpu0 = tree_cpu_seconds(agent.pid)
            with concurrent.futures.ThreadPoolExecutor(threads) as ex:
                list(ex.map(create, range(n)))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if watch.error:
                    raise RuntimeError(f"watch failed: {watch.error}")
                with watch.lock:
                    done = len(watch.ready)
                if done >= n:
                    break
                time.sleep(0.05)
            with watch.lock:
                ready = dict(watch.ready)
                bound = dict(watch.bound)
            busy_rss = lib.rss_mb(agent.pid)
            agent_cpu = tree_cpu_seconds(agent.pid) - cpu0
            watch.stop()
            if len(ready) < n:
                raise RuntimeError(f"only {len(ready)} of {n} pods Ready after 120 s; agent log:\n{lib._tail(agent.log_path)}")
            lat = sorted((ready[k] - sent[k]) * 1000 for k in sent)
            # where the time goes: create to bound (API server + scheduler), bound to Ready (the agent)
            to_bound = sorted((bound[k] - sent[k]) * 1000 for k in sent if k in bound)
            on_node = sorted((ready[k] - bound[k]) * 1000 for k in sent if k in bound)
            # delete the pods and wait until the agent has removed them
            req = urllib.request.Request(plane.url + "/api/v1/namespaces/default/pods?labelSelector=run%3D" + str(run),
                                         method="DELETE")
            urllib.request.urlopen(req, timeout=60).read()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and get_json(plane.url, "/api/v1/namespaces/default/pods")["items"]:
                time.sleep(0.2)
            return {"p50": lib.percentile(lat, 50), "p99": lib.percentile(lat, 99), "max": lat[-1],
                    "bound_p99": lib.percentile(to_bound, 99), "node_p50": lib.percentile(on_node, 50),
                    "node_p99": lib.percentile(on_node, 99),
                    "idle_rss": idle_rss, "busy_rss": busy_rss, "agent_cpu": agent_cpu, "load": load}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pods", type=int, default=100)
    p.add_argument("--threads", type=int, default=16)
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("pod_startup.py runs real pods: run it as root")
    lib.banner("Pod startup: 100 pods at once on one real node, create to Ready", ["bench/pod_startup.py"] + sys.argv[1:])
    rows, results = [], []
    for run in range(a.runs):
        r = run_once(run, a.pods, a.threads)
        results.append(r)
        rows.append([run + 1, f"{r['p50']:.0f}", f"{r['p99']:.0f}", f"{r['max']:.0f}", f"{r['bound_p99']:.0f}",
                     f"{r['node_p50']:.0f}", f"{r['node_p99']:.0f}", f"{r['idle_rss']:.1f}", f"{r['busy_rss']:.1f}",
                     f"{r['agent_cpu']:.2f}", f"{r['load']:.2f}"])
    print(lib.table(["run", "p50 ms", "p99 ms", "max ms", "create-bound p99 ms", "bound-Ready p50 ms", "bound-Ready p99 ms",
                     "agent RSS idle MiB", f"agent RSS {a.pods} pods MiB", "agent CPU s (with reaped children)", "load"],
                    rows))
    p99 = lib.median([r["p99"] for r in results])
    rss = lib.median([r["idle_rss"] for r in results])
    print()
    print(f"median p99 {p99:.0f} ms (goal <= {GOAL_P99_MS} ms: {'met' if p99 <= GOAL_P99_MS else 'MISSED'}); "
          f"median idle agent RSS {rss:.1f} MiB (goal <= {GOAL_RSS_MB} MiB: {'met' if rss <= GOAL_RSS_MB else 'MISSED'})")


if __name__ == "__main__":
    main()
