#!/usr/bin/env python3
"""Issue 5 goals: a service costs almost nothing. `ab -c 50 -n 100000` against a hello server (43-byte body)
behind a 2-pod Service: direct to one pod, through the ClusterIP with the nftables proxy, through the
ClusterIP with the userspace proxy, and through HAProxy (Debian) in front of the same pods (what a user
would pick instead). Goals: nftables >= 0.95x direct, userspace >= 0.6x direct, 0 failed. The seed measured
the original userspace kube-proxy at 288 req/s against 6,253 direct (0.046x).

Each mode gets a fresh `herd server` with its in-process node agent (root: real pods in network namespaces
on the node's bridge) and `--proxy-mode nftables` or `--proxy-mode userspace`. A Deployment of 2 pods runs
the responder (HAProxy with `http-request return`, image `host`: far faster than any Python server, so the
proxy's cost shows) and a ClusterIP Service selects them. ab runs on the node itself (the host network
namespace), one connection per request (HTTP/1.0, no keep-alive): every request is a new connection through
the proxy, the worst case for a proxy. Runs alternate the order of the targets; the table shows medians.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import lib
from scheduler_throughput import get_json, send_json

CLUSTER_CIDR = "10.240.0.0/16"
SERVICE_CIDR = "10.241.0.0/16"
GOAL_NFT = 0.95
GOAL_USERSPACE = 0.6
SEED_RATIO = 288 / 6253
BODY = "Hello from a herd pod behind a Service ok!\n"  # 43 bytes
assert len(BODY) == 43

RESPONDER_CFG = """global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend hello
    bind :8080
    http-request return status 200 content-type text/plain string "%s"
""" % BODY.replace("\n", "\\n")


class HerdNode(lib._Process):
    """`herd server` with its own node agent (real pods) and the given proxy mode; ready when its node is."""

    name = "herd-node"

    def __init__(self, mode, node):
        super().__init__()
        self.mode, self.node = mode, node

    def start(self):
        self.port = lib.free_port()
        self._spawn([lib.HERD_BIN, "server", "--data-dir", os.path.join(self.dir, "data"), "--port", str(self.port),
                     "--node-name", self.node, "--kubelet-port", "0", "--proxy-mode", self.mode,
                     # ranges of its own: test clusters on this machine use the defaults
                     "--cluster-cidr", CLUSTER_CIDR, "--service-cidr", SERVICE_CIDR,
                     "--log-level", os.environ.get("HERD_LOG_LEVEL", "notice")])
        self.url = f"http://{lib.HOST}:{self.port}"
        lib.wait_node_ready(self.url, self.node, self.proc, self.log_path)

    def stop(self):
        # the agent leaves pods running by design: delete them first and wait until the agent has removed them
        if self.proc is not None and self.proc.poll() is None:
            try:
                req = urllib.request.Request(self.url + "/apis/apps/v1/namespaces/default/deployments/hello",
                                             method="DELETE")
                urllib.request.urlopen(req, timeout=30).read()
            except OSError:
                pass
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if not get_json(self.url, "/api/v1/namespaces/default/pods?labelSelector=app%3Dhello")["items"]:
                        break
                    req = urllib.request.Request(self.url + "/api/v1/namespaces/default/pods?labelSelector=app%3Dhello",
                                                 method="DELETE")
                    urllib.request.urlopen(req, timeout=30).read()
                except OSError:
                    break
                time.sleep(0.5)
        super().stop()
        lib.remove_node_leftovers(self.node, blackholes=(CLUSTER_CIDR, SERVICE_CIDR))


def deploy(node, cfg_path):
    """The 2-pod hello Deployment and its Service; returns (ClusterIP, [pod IPs]) once both serve."""
    pod_spec = {"containers": [{"name": "hello", "image": "host",
                                "command": ["/usr/sbin/haproxy", "-db", "-f", cfg_path],
                                "ports": [{"name": "http", "containerPort": 8080}],
                                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}],
                "terminationGracePeriodSeconds": 1}
    send_json(node.url, "POST", "/apis/apps/v1/namespaces/default/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "hello"}},
                 "template": {"metadata": {"labels": {"app": "hello"}}, "spec": pod_spec}}})
    svc = send_json(node.url, "POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"selector": {"app": "hello"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    cluster_ip = svc["spec"]["clusterIP"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        slices = get_json(node.url, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                                    "?labelSelector=kubernetes.io%2Fservice-name%3Dhello")["items"]
        ips = sorted(a for s in slices for e in s.get("endpoints") or []
                     if (e.get("conditions") or {}).get("ready", True) for a in e.get("addresses", []))
        if len(ips) == 2 and all(fetch(f"http://{ip}:8080/") == BODY for ip in ips) \
                and fetch(f"http://{cluster_ip}/") == BODY:
            return cluster_ip, ips
        time.sleep(0.5)
    pods = get_json(node.url, "/api/v1/namespaces/default/pods")["items"]
    raise RuntimeError(f"the hello service did not serve in 120 s; pods: "
                       f"{[(p['metadata']['name'], p.get('status', {}).get('phase'), p.get('status', {}).get('podIP')) for p in pods]}; "
                       f"log:\n{lib._tail(node.log_path)}")


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


class HAProxyLB(lib._Process):
    """HAProxy on the node in front of the pods (TCP mode, round robin), on a free loopback port."""

    name = "haproxy-lb"

    def __init__(self, pod_ips):
        super().__init__()
        self.pod_ips = pod_ips

    def start(self):
        self.port = lib.free_port()
        cfg = os.path.join(self.dir, "lb.cfg")
        with open(cfg, "w") as f:
            f.write("global\n    maxconn 4096\ndefaults\n    mode tcp\n    timeout connect 5s\n"
                    "    timeout client 30s\n    timeout server 30s\n"
                    f"frontend lb\n    bind {lib.HOST}:{self.port}\n    default_backend pods\n"
                    "backend pods\n    balance roundrobin\n"
                    + "".join(f"    server p{i} {ip}:8080\n" for i, ip in enumerate(self.pod_ips)))
        self._spawn(["haproxy", "-db", "-f", cfg])
        self.url = f"http://{lib.HOST}:{self.port}/"
        deadline = time.monotonic() + 10
        while fetch(self.url) != BODY:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"haproxy did not serve; log:\n{lib._tail(self.log_path)}")
            time.sleep(0.1)


def ab(url, concurrency, requests):
    """One ab run: requests/s, p50 and p99 ms, failed requests (non-2xx counted as failed)."""
    out = subprocess.run(["ab", "-q", "-r", "-c", str(concurrency), "-n", str(requests), url],
                         capture_output=True, text=True, timeout=600).stdout

    def num(pattern, default=None):
        m = re.search(pattern, out, re.M)
        if m is None:
            if default is None:
                raise RuntimeError(f"ab output without /{pattern}/:\n{out}")
            return default
        return float(m.group(1))

    return {"rps": num(r"^Requests per second:\s+([\d.]+)"),
            "p50": num(r"^\s+50%\s+(\d+)"), "p99": num(r"^\s+99%\s+(\d+)"),
            "failed": int(num(r"^Failed requests:\s+(\d+)") + num(r"^Non-2xx responses:\s+(\d+)", 0)),
            "complete": int(num(r"^Complete requests:\s+(\d+)"))}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--requests", type=int, default=100000)
    p.add_argument("--concurrency", type=int, default=50)
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("service_proxy.py runs real pods and both proxy modes: run it as root")
    for tool in ("ab", "haproxy"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (Debian: apt-get install apache2-utils haproxy)")
    lib.banner(f"Service proxy: ab -c {a.concurrency} -n {a.requests}, 43-byte body, 2-pod Service",
               ["bench/service_proxy.py"] + sys.argv[1:])
    cfg_dir = tempfile.mkdtemp(prefix="bench-hello-")
    cfg = os.path.join(cfg_dir, "hello.cfg")
    with open(cfg, "w") as f:
        f.write(RESPONDER_CFG)
    results = {}  # target -> [ab result]
    loads = []
    try:
        for mode in ("nftables", "userspace"):
            with HerdNode(mode, f"bench-proxy-{mode[:4]}") as node:
                cluster_ip, pod_ips = deploy(node, cfg)
                # each mode's server gets its own direct runs: the ratio compares runs made minutes apart,
                # not across servers (the machine's load changes)
                targets = [(f"direct (one pod), {mode} node", f"http://{pod_ips[0]}:8080/"),
                           (f"ClusterIP, {mode} proxy", f"http://{cluster_ip}/")]
                lb = HAProxyLB(pod_ips) if mode == "nftables" else None
                if lb:
                    lb.start()
                    targets.append(("HAProxy (TCP, round robin)", lb.url))
                try:
                    for run in range(a.runs):
                        loads.append(lib.loadavg())
                        order = targets[run % len(targets):] + targets[:run % len(targets)]
                        for name, url in order:
                            r = ab(url, a.concurrency, a.requests)
                            results.setdefault(name, []).append(r)
                            print(f"  {mode} run {run + 1}: {name}: {r['rps']:.0f} req/s, p50 {r['p50']:.0f} ms, "
                                  f"p99 {r['p99']:.0f} ms, failed {r['failed']}", file=sys.stderr)
                finally:
                    if lb:
                        lb.stop()
    finally:
        shutil.rmtree(cfg_dir, ignore_errors=True)
    def direct_of(name):
        mode = "userspace" if "userspace" in name else "nftables"
        return lib.median([r["rps"] for r in results[f"direct (one pod), {mode} node"]])

    rows = []
    for name, rs in results.items():
        rps = lib.median([r["rps"] for r in rs])
        direct = direct_of(name)
        rows.append([name, len(rs), f"{rps:.0f}", f"{lib.median([r['p50'] for r in rs]):.0f}",
                     f"{lib.median([r['p99'] for r in rs]):.0f}", sum(r["failed"] for r in rs),
                     f"{rps / direct:.2f}x"])
    rows.append(["seed: userspace kube-proxy", "", "288", "", "", "", f"{SEED_RATIO:.3f}x (vs 6,253 direct)"])
    print(lib.table(["target", "runs", "req/s (median)", "p50 ms", "p99 ms", "failed (all runs)", "vs direct (same node)"], rows))
    print()
    print(f"load average at the start of each run: {', '.join(f'{x:.2f}' for x in loads)}")
    for name, goal in (("ClusterIP, nftables proxy", GOAL_NFT), ("ClusterIP, userspace proxy", GOAL_USERSPACE)):
        if name in results:
            ratio = lib.median([r["rps"] for r in results[name]]) / direct_of(name)
            failed = sum(r["failed"] for r in results[name])
            ok = ratio >= goal and failed == 0
            print(f"{name}: {ratio:.2f}x direct, {failed} failed (goal >= {goal}x, 0 failed: {'met' if ok else 'MISSED'})")


if __name__ == "__main__":
    main()
