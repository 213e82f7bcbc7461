#!/usr/bin/env python3
"""Issue 6 `autoscale`: the service scales up and down with its traffic.

Starts a 3-node cluster with `herd cluster up` for each scenario and run, deploys a one-replica web
Deployment behind a ClusterIP Service and an autoscaling/v2 HorizontalPodAutoscaler (1 to 6 replicas,
behavior.scaleDown.stabilizationWindowSeconds 20), then sends a bounded load through the ClusterIP for
--load-seconds (default 60) from inside the first node's network namespace: a few threads, each at most
--rate/threads requests per second, every request a new connection with a timeout.

Scenarios:
  traffic  python3 http.server pods; the HPA's metric is the built-in Object metric `connections_per_second`
           of the Service (custom.metrics.k8s.io/v1beta2, new connections per second counted by every node's
           service proxy and summed), target averageValue --cps-per-pod (10) connections/s per replica.
  cpu      pods requesting 100m cpu whose server hashes for ~20 ms of cpu per request; the HPA's metric is cpu
           Utilization (metrics.k8s.io, served by the API server from the node agents' stats), target 50%.

Measured (wall clock, the deployment and HPA polled every second through kubectl):
  up s       load start -> the Deployment has >= 3 Ready replicas (goal <= 45 s); also the time the HPA
             first asked for >= 3 (spec.replicas).
  max        the most replicas the HPA asked for.
  down s     load stop -> the HPA set spec.replicas back to 1. Goal: "back to 1 after the scale-down window":
             not before the 20 s window (no earlier scale-down is possible while a recommendation above 1
             is in the window) and promptly after it, i.e. <= window + metric window (15 s) + 2 HPA sync
             periods (15 s each) = 65 s.
  1 pod s    load stop -> only one pod left (the others' termination finished).
  failed     requests that failed or timed out during the load.
and the timeline of spec / Ready replicas every 5 s from the load's start. `herd cluster down` runs at the
end of every run whatever happens.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import lib
from failover import Cluster, sh, wait

WINDOW_S = 20
GOAL_UP_S = 45.0
# after the load stops: the connection rate's window (15 s) must empty, then two HPA syncs (15 s each) must
# see the lower recommendation, one of them at least the scale-down window after the last higher one
GOAL_DOWN_MAX_S = WINDOW_S + 15 + 2 * 15

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: host
        command: ["sh", "-c", "%(command)s"]
        ports: [{name: http, containerPort: 8080}]
        resources: {requests: {cpu: 100m}}
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1, failureThreshold: 3}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""

# The pods' server: answers /ready at once, anything else after `burn` sha256 rounds (~1 us each), one
# thread per connection, no keep-alive.
SERVER = ("import hashlib, http.server, sys; burn = int(sys.argv[1])\n"
          "class H(http.server.BaseHTTPRequestHandler):\n"
          "    def do_GET(self):\n"
          "        h = b'x'\n"
          "        if self.path != '/ready':\n"
          "            for _ in range(burn): h = hashlib.sha256(h).digest()\n"
          "        body = h.hex().encode()\n"
          "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
          "        self.wfile.write(body)\n"
          "    def log_message(self, *a): pass\n"
          "http.server.ThreadingHTTPServer(('', 8080), H).serve_forever()\n")

HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 6
  metrics:
  - %(metric)s
  behavior:
    scaleDown: {stabilizationWindowSeconds: %(window)d}
"""

TRAFFIC_METRIC = ("{type: Object, object: {metric: {name: connections_per_second}, "
                  "describedObject: {apiVersion: v1, kind: Service, name: web}, target: {type: AverageValue, averageValue: '%s'}}}")
CPU_METRIC = "{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: %d}}}"

def server_url(c):
    with open(os.path.join(c.dir, "kubeconfig.yaml")) as f:
        for line in f:
            if line.strip().startswith("server:"):
                return line.split("server:", 1)[1].strip()
    raise RuntimeError("no server in the kubeconfig")


class Poller(threading.Thread):
    """Polls the Deployment, its pods and the HPA every second with plain GETs (kubectl would cost more cpu
    than the workload): (time, spec replicas, ready replicas, pods not being deleted, the HPA's metric)."""

    def __init__(self, c):
        super().__init__(daemon=True)
        self.url = server_url(c)
        self.samples = []
        self.stop = threading.Event()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.load(r)

    def run(self):
        while not self.stop.is_set():
            t = time.time()
            try:
                d = self.get("/apis/apps/v1/namespaces/default/deployments/web")
                pods = [p for p in self.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")["items"]
                        if not p["metadata"].get("deletionTimestamp")]
                h = self.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")
                metrics = h.get("status", {}).get("currentMetrics") or []
                self.samples.append((t, d["spec"].get("replicas", 0), d.get("status", {}).get("readyReplicas", 0) or 0,
                                     len(pods), metric_text(metrics)))
            except Exception as e:  # a poll error only leaves a gap in the timeline
                print(f"poll: {e}", file=sys.stderr)
            self.stop.wait(max(0.0, 1.0 - (time.time() - t)))


def metric_text(metrics):
    out = []
    for m in metrics:
        if m.get("object"):
            cur = m["object"].get("current", {})
            out.append("cps avg " + str(cur.get("averageValue", cur.get("value", "?"))))
        elif m.get("resource"):
            out.append("cpu " + str(m["resource"].get("current", {}).get("averageUtilization", "?")) + "%")
    return ", ".join(out) or "-"


def first(samples, since, pred):
    for s in samples:
        if s[0] >= since and pred(s):
            return s[0] - since
    return None


def run_once(a, scenario):
    if scenario == "traffic":
        burn, metric, rate, timeout = 0, TRAFFIC_METRIC % a.cps_per_pod, a.rate, 1.0
    else:
        burn, metric, rate, timeout = a.burn, CPU_METRIC % a.cpu_percent, a.cpu_rate, 5.0
    command = "exec python3 -c \\\"$SERVER\\\" %d" % burn
    with Cluster(3, a.node_network, a.cluster_cidr, a.service_cidr) as c:
        client = c.state["nodes"][0]
        web = WEB % {"command": command}
        web = web.replace("containers:\n      - name: web", "containers:\n      - name: web\n        env: [{name: SERVER, value: %s}]"
                          % json.dumps(SERVER))
        c.kubectl(["apply", "-f", "-"], input=web)
        wait("1 web replica Ready", lambda: c.get(["deploy", "web"]).get("status", {}).get("readyReplicas") == 1, 180)
        ip = c.get(["svc", "web"])["spec"]["clusterIP"]
        url = f"http://{ip}/"
        wait("ClusterIP answers from the client node", lambda: sh(
            ["ip", "netns", "exec", client["netns"], "python3", "-c",
             f"import urllib.request; urllib.request.urlopen('{url}ready', timeout=2)"], check=False).returncode == 0, 60)
        c.kubectl(["apply", "-f", "-"], input=HPA % {"metric": metric, "window": WINDOW_S})

        def active():
            h = c.get(["hpa", "web"])
            conds = {x["type"]: x["status"] for x in h.get("status", {}).get("conditions") or []}
            return conds.get("ScalingActive") == "True" and h.get("status", {}).get("currentMetrics")
        wait("the HPA computing from its metric", active, 120)
        poller = Poller(c)
        poller.start()
        load = subprocess.Popen(["ip", "netns", "exec", client["netns"], "python3", "-c", lib.NETNS_LOAD, url, str(a.load_seconds),
                                 str(a.threads), str(rate / a.threads), str(timeout)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            start = time.time()
            out, err = load.communicate(timeout=a.load_seconds + 120)
            stop = time.time()
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
        if load.returncode != 0:
            poller.stop.set()
            raise RuntimeError(f"load exited {load.returncode}: {err}")
        results = json.loads(out)
        # the load's own clock: its first request and its end
        start = min((r[0] for r in results), default=start)
        deadline = time.time() + WINDOW_S + a.down_wait
        while time.time() < deadline:
            s = poller.samples[-1] if poller.samples else None
            if s and s[0] > stop and s[1] == 1 and s[3] == 1:
                break
            time.sleep(1)
        poller.stop.set()
        poller.join(timeout=10)
        samples = poller.samples
        events = c.kubectl(["get", "events", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler",
                            "--sort-by", ".lastTimestamp", "-o",
                            "custom-columns=TIME:.lastTimestamp,REASON:.reason,MESSAGE:.message"], check=False).stdout
        hpa = c.kubectl(["get", "hpa", "web"], check=False).stdout
        during = [s for s in samples if start <= s[0] <= stop]
        timeline = []
        t = 0.0
        end = samples[-1][0] - start if samples else 0
        while t <= end:
            s = min(samples, key=lambda x: abs(x[0] - start - t))
            timeline.append((t, s[1], s[2], s[3], s[4]))
            t += 5
        if samples:
            s = samples[-1]
            timeline.append((s[0] - start, s[1], s[2], s[3], s[4]))
        return {
            "requests": len(results), "failed": sum(1 for r in results if r[2].startswith("ERR-")),
            "kinds": sorted({r[2] for r in results if r[2].startswith("ERR-")}),
            "up_spec": first(samples, start, lambda s: s[1] >= 3),
            "up_ready": first(samples, start, lambda s: s[2] >= 3),
            "max": max((s[1] for s in during + [x for x in samples if x[0] > stop]), default=0),
            "down_spec": first(samples, stop, lambda s: s[1] == 1),
            "down_pods": first(samples, stop, lambda s: s[1] == 1 and s[3] == 1),
            "load_s": stop - start, "timeline": timeline, "events": events, "hpa": hpa, "loadavg": lib.loadavg(),
        }


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


def report(scenario, a, results):
    rows = []
    for i, r in enumerate(results):
        down = r["down_spec"]
        ok_down = down is not None and WINDOW_S <= down <= GOAL_DOWN_MAX_S
        rows.append([i + 1, r["requests"], r["failed"], fmt(r["up_spec"]), fmt(r["up_ready"]), r["max"], fmt(down),
                     "yes" if ok_down else "no", fmt(r["down_pods"]), f"{r['loadavg']:.2f}"])
    print()
    print(f"### {scenario}")
    print(lib.table(["run", "requests", "failed", "HPA asks >= 3 s", ">= 3 Ready s", "max replicas", "back to 1 s",
                     f"in [{WINDOW_S}, {GOAL_DOWN_MAX_S}] s", "1 pod left s", "load avg"], rows))
    for i, r in enumerate(results):
        print()
        print(f"run {i + 1} timeline (s from the load's start; the load ran {r['load_s']:.0f} s): "
              "spec replicas / Ready replicas / pods, HPA's current metric")
        for t, spec, rdy, pods, m in r["timeline"]:
            print(f"  {t:5.0f}  {spec} / {rdy} / {pods}   {m}")
        if r["kinds"]:
            print(f"run {i + 1} failures: {', '.join(r['kinds'])}")
        if a.verbose:
            print(r["hpa"])
            print(r["events"])
    up = [r["up_ready"] for r in results]
    down = [r["down_spec"] for r in results]
    up_med = None if None in up else lib.median(up)
    down_med = None if None in down else lib.median(down)
    failed = lib.median([r["failed"] / max(r["requests"], 1) for r in results])
    print()
    print(f"{scenario}: >= 3 Ready after {fmt(up_med)} s (goal <= {GOAL_UP_S:.0f} s: "
          f"{'met' if up_med is not None and up_med <= GOAL_UP_S else 'MISSED'}); max {max(r['max'] for r in results)} replicas; "
          f"back to 1 {fmt(down_med)} s after the load stopped (goal: after the {WINDOW_S} s window, <= {GOAL_DOWN_MAX_S} s: "
          f"{'met' if down_med is not None and WINDOW_S <= down_med <= GOAL_DOWN_MAX_S else 'MISSED'}); "
          f"failed {100 * failed:.2f}%")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=["traffic", "cpu", "both"], default="both")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--load-seconds", type=float, default=60)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--rate", type=float, default=40, help="traffic: new connections per second in all (default 40)")
    p.add_argument("--cps-per-pod", default="10", help="traffic: the HPA's averageValue target, connections/s per replica")
    p.add_argument("--cpu-rate", type=float, default=10, help="cpu: requests per second in all (default 10)")
    p.add_argument("--burn", type=int, default=20000, help="cpu: sha256 rounds per request (~1 us of cpu each)")
    p.add_argument("--cpu-percent", type=int, default=50, help="cpu: the HPA's averageUtilization target")
    p.add_argument("--down-wait", type=float, default=120, help="seconds after the window to wait for 1 replica")
    p.add_argument("--node-network", default="10.87.0.0/24")
    p.add_argument("--cluster-cidr", default="10.85.0.0/16")
    p.add_argument("--service-cidr", default="10.86.0.0/16")
    p.add_argument("-v", "--verbose", action="store_true", help="print the HPA and its events after each run")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("autoscale.py makes network namespaces and real pods: run it as root")
    lib.banner("Autoscale: an HPA (1-6 replicas) under a bounded load through a ClusterIP", ["bench/autoscale.py"] + sys.argv[1:])
    for scenario in (["traffic", "cpu"] if a.scenario == "both" else [a.scenario]):
        results = [run_once(a, scenario) for _ in range(a.runs)]
        report(scenario, a, results)


if __name__ == "__main__":
    main()
