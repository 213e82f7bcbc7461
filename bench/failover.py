#!/usr/bin/env python3
"""Issue 6 `failover`: kill a machine and the service keeps working.

Starts a 3-node cluster with `herd cluster up` (each node a `herd agent` in a network namespace of its own),
runs a 3-replica web Deployment spread one per node behind a ClusterIP Service, and sends a bounded load
through the ClusterIP for 60 s from inside the first node's network namespace (a few threads, each request
with a 1 s timeout, each thread at most --rate requests per second). At second 10 another node is unplugged:
its agent is killed with SIGKILL and every link in its network namespace set down, as when a machine dies.

Prints the share of failed requests, the time from the kill until no request fails any more (the start of
the last failing request; requests sent after it all succeed), and the time until 3 replicas are Ready
again, plus the steps in between as seen by polling the API (node not Ready, endpoint gone, replacement
created, scheduled, Ready). Goals: <= 2% failed, no failure later than 8 s after the kill, 3 Ready <= 15 s
after the kill. `herd cluster down` runs at the end whatever happens.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import lib

KUBECTL = os.environ.get("KUBECTL", "kubectl")
GOAL_FAILED_SHARE = 0.02
GOAL_LAST_FAILURE_S = 8.0
GOAL_READY_S = 15.0

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      # Honor: the dead node (tainted unreachable) is no domain of the spread, else its empty slot would
      # forbid a second replica on any live node (upstream's default, Ignore, counts tainted nodes)
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,
         labelSelector: {matchLabels: {app: web}}}
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: host
        command: ["sh", "-c", "hostname > /www/index.html && cd /www && exec python3 -m http.server 8080"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1, failureThreshold: 1}
        volumeMounts: [{name: www, mountPath: /www}]
      volumes: [{name: www, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""

def sh(args, input=None, timeout=120, check=True):
    r = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: {r.stdout}{r.stderr}")
    return r


class Cluster:
    def __init__(self, nodes, node_network, cluster_cidr, service_cidr):
        self.dir = tempfile.mkdtemp(prefix="herd-failover-")
        self.args = ["--nodes", str(nodes), "--data-dir", self.dir, "--node-network", node_network,
                     "--cluster-cidr", cluster_cidr, "--service-cidr", service_cidr, "--port", str(lib.free_port()),
                     "--log-level", os.environ.get("HERD_LOG_LEVEL", "info")]

    def __enter__(self):
        try:
            r = sh([lib.HERD_BIN, "cluster", "up"] + self.args, timeout=400, check=False)
            if r.returncode != 0:
                raise RuntimeError(f"herd cluster up failed: {r.stdout}{r.stderr}")
            with open(os.path.join(self.dir, "cluster.json")) as f:
                self.state = json.load(f)
            return self
        except BaseException:
            self.down()
            raise

    def __exit__(self, *exc):
        self.down()

    def down(self):
        r = sh([lib.HERD_BIN, "cluster", "down", "--data-dir", self.dir], timeout=180, check=False)
        if r.returncode != 0:
            print(f"herd cluster down: {r.stdout}{r.stderr}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", self.dir])

    def kubectl(self, args, input=None, timeout=60, check=True):
        return sh([KUBECTL, "--kubeconfig", os.path.join(self.dir, "kubeconfig.yaml"),
                   "--cache-dir", os.path.join(self.dir, "kubectl-cache")] + args, input=input, timeout=timeout, check=check)

    def get(self, args):
        return json.loads(self.kubectl(["get"] + args + ["-o", "json"]).stdout)

    def agent_pid(self, node):
        with open(os.path.join(self.dir, "pids", node + ".pid")) as f:
            return int(f.read().split()[0])


def ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", []))


def wait(what, check, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}")


class Observer(threading.Thread):
    """Polls the API after the kill and stamps (wall clock) the first time each step is seen."""

    def __init__(self, c, dead, before, seconds):
        super().__init__(daemon=True)
        self.c, self.dead, self.before, self.seconds = c, dead, before, seconds
        self.stamps = {}
        self.stop = threading.Event()

    def stamp(self, key):
        self.stamps.setdefault(key, time.time())

    def run(self):
        end = time.time() + self.seconds
        while not self.stop.is_set() and time.time() < end:
            try:
                node = self.c.get(["node", self.dead])
                cond = {x["type"]: x["status"] for x in node.get("status", {}).get("conditions", [])}
                if cond.get("Ready") != "True":
                    self.stamp("node not Ready")
                if any(t.get("effect") == "NoExecute" for t in node.get("spec", {}).get("taints") or []):
                    self.stamp("NoExecute taint")
                pods = self.c.get(["pods", "-l", "app=web"])["items"]
                on_dead = [p for p in pods if p["spec"].get("nodeName") == self.dead]
                if any(not ready(p) for p in on_dead):
                    self.stamp("dead node's pod not Ready")
                if any(p["metadata"].get("deletionTimestamp") for p in on_dead):
                    self.stamp("dead node's pod evicted")
                fresh = [p for p in pods if p["spec"].get("nodeName") != self.dead and not p["metadata"].get("deletionTimestamp")]
                new = [p for p in pods if p["metadata"]["name"] not in self.before]
                if new:
                    self.stamp("replacement created")
                if any(p["spec"].get("nodeName") for p in new):
                    self.stamp("replacement scheduled")
                if len([p for p in fresh if ready(p)]) >= 3:
                    self.stamp("3 Ready on live nodes")
                slices = self.c.get(["endpointslices", "-l", "kubernetes.io/service-name=web"])["items"]
                eps = [e for s in slices for e in s.get("endpoints") or []
                       if e.get("nodeName") == self.dead and (e.get("conditions") or {}).get("ready")]
                if not eps:
                    self.stamp("dead endpoint not ready in EndpointSlice")
                if "3 Ready on live nodes" in self.stamps:
                    return
            except Exception as e:  # the API answers again on the next poll; a poll error only delays a stamp
                print(f"poll: {e}", file=sys.stderr)
            time.sleep(0.2)


def run_once(a):
    with Cluster(3, a.node_network, a.cluster_cidr, a.service_cidr) as c:
        nodes = c.state["nodes"]
        c.kubectl(["apply", "-f", "-"], input=WEB)

        def spread():
            pods = c.get(["pods", "-l", "app=web"])["items"]
            r = [p for p in pods if ready(p)]
            return len(r) == 3 and len({p["spec"]["nodeName"] for p in r}) == 3
        wait("3 web replicas Ready, one per node", spread)
        ip = c.get(["svc", "web"])["spec"]["clusterIP"]
        client, victim = nodes[0], nodes[-1]
        url = f"http://{ip}/"
        # the data path is programmed on every node before the load starts
        wait("ClusterIP answers from the client node", lambda: sh(
            ["ip", "netns", "exec", client["netns"], "python3", "-c",
             f"import urllib.request; urllib.request.urlopen('{url}', timeout=1)"], check=False).returncode == 0, 60)

        before = {p["metadata"]["name"] for p in c.get(["pods", "-l", "app=web"])["items"]}
        load = subprocess.Popen(["ip", "netns", "exec", client["netns"], "python3", "-c", lib.NETNS_LOAD, url, str(a.seconds),
                                 str(a.threads), str(a.rate), "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            start = time.time()
            time.sleep(a.kill_at)
            pid = c.agent_pid(victim["name"])
            os.kill(pid, signal.SIGKILL)
            kill = time.time()
            links = sh(["ip", "-n", victim["netns"], "-o", "link", "show"]).stdout
            for line in links.splitlines():
                dev = line.split(":")[1].strip().split("@")[0]
                sh(["ip", "-n", victim["netns"], "link", "set", dev, "down"], check=False)
            observer = Observer(c, victim["name"], before, a.seconds)
            observer.start()
            out, err = load.communicate(timeout=a.seconds + 60)
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
        observer.stop.set()
        observer.join(timeout=10)
        if load.returncode != 0:
            raise RuntimeError(f"load exited {load.returncode}: {err}")
        results = json.loads(out)
        failed = [r for r in results if r[2].startswith("ERR-")]
        after = [r for r in failed if r[0] >= kill - 1]
        last_start = max((r[0] for r in after), default=kill) - kill
        last_end = max((r[1] for r in after), default=kill) - kill
        ready_at = observer.stamps.get("3 Ready on live nodes")
        steps = sorted((t - kill, k) for k, t in observer.stamps.items())
        logs = os.path.join(c.dir, "logs")
        # the proxies delete the conntrack entries the dead endpoint left (unanswered attempts a client reusing
        # its source port would hit for 120 s): how many, from the agents' logs
        conntrack = 0
        for name in os.listdir(logs):
            with open(os.path.join(logs, name), errors="replace") as f:
                for line in f:
                    m = re.search(r"service proxy deleted (\d+) stale conntrack entries", line)
                    if m:
                        conntrack += int(m.group(1))
        kept = None
        if a.keep_logs:
            kept = tempfile.mkdtemp(prefix="herd-failover-logs-")
            subprocess.run(["cp", "-r", logs, kept])
        return {"requests": len(results), "failed": len(failed), "before_kill_failed": len(failed) - len(after),
                "last_start": last_start, "last_end": last_end,
                "ready": None if ready_at is None else ready_at - kill, "steps": steps, "load_start": start - kill,
                "kinds": sorted({r[2] for r in failed}), "conntrack_deleted": conntrack,
                "failure_seconds": sorted({round(r[0] - kill, 1) for r in failed}), "logs": kept, "loadavg": lib.loadavg()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--kill-at", type=float, default=10)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--rate", type=float, default=25, help="requests per second per thread at most")
    p.add_argument("--node-network", default="10.97.0.0/24")
    p.add_argument("--cluster-cidr", default="10.98.0.0/16")
    p.add_argument("--service-cidr", default="10.99.0.0/16")
    p.add_argument("--keep-logs", action="store_true", help="copy the cluster's logs to a temp dir before down")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("failover.py makes network namespaces and real pods: run it as root")
    lib.banner("Failover: one of 3 nodes unplugged under load through a ClusterIP", ["bench/failover.py"] + sys.argv[1:])
    rows, results = [], []
    for run in range(a.runs):
        r = run_once(a)
        results.append(r)
        share = r["failed"] / max(r["requests"], 1)
        print(f"run {run + 1}: steps after the kill (s): " + ", ".join(f"{k} {t:.1f}" for t, k in r["steps"]))
        print(f"run {run + 1}: stale conntrack entries of removed endpoints deleted by the proxies: {r['conntrack_deleted']}")
        if r["kinds"]:
            print(f"run {run + 1}: failures: {', '.join(r['kinds'])}" + (f"; logs kept in {r['logs']}" if r["logs"] else ""))
            print(f"run {run + 1}: failed requests sent at (s after the kill): {' '.join(str(t) for t in r['failure_seconds'])}")
        rows.append([run + 1, r["requests"], r["failed"], f"{100 * share:.2f}", f"{r['last_start']:.1f}", f"{r['last_end']:.1f}",
                     "-" if r["ready"] is None else f"{r['ready']:.1f}", f"{r['loadavg']:.2f}"])
    print()
    print(lib.table(["run", "requests", "failed", "failed %", "last failure sent s", "last failure ended s",
                     "3 Ready s", "load avg"], rows))
    share = lib.median([r["failed"] / max(r["requests"], 1) for r in results])
    last = lib.median([r["last_start"] for r in results])
    ready_s = [r["ready"] for r in results]
    ready_med = None if None in ready_s else lib.median(ready_s)
    print()
    print(f"failed {100 * share:.2f}% (goal <= {100 * GOAL_FAILED_SHARE:.0f}%: {'met' if share <= GOAL_FAILED_SHARE else 'MISSED'}); "
          f"no failure after {last:.1f} s (goal <= {GOAL_LAST_FAILURE_S:.0f} s: {'met' if last <= GOAL_LAST_FAILURE_S else 'MISSED'}); "
          f"3 Ready after {'-' if ready_med is None else f'{ready_med:.1f}'} s (goal <= {GOAL_READY_S:.0f} s: "
          f"{'met' if ready_med is not None and ready_med <= GOAL_READY_S else 'MISSED'})")


if __name__ == "__main__":
    main()
