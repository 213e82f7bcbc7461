#!/usr/bin/env python3
"""Issue 5: how fast Service changes reach the data path with 1,000 Services (the nftables proxy's sync is one
transaction: partial, with only the changed service's objects, except the first, after a failure and the
periodic full resync every 60 s, which rewrite the whole table).

A fresh `herd server` with its in-process node agent and the nftables proxy (root). 1,000 ClusterIP Services
without a selector are created from 16 threads, each with an EndpointSlice of its own naming one endpoint
(an address in the pod range nobody answers on: only the rules are measured, no traffic). Measured:
- the time from the first create until the node's table holds all 1,000 ClusterIPs;
- then, with 1,000 Services in place, the time from changing one Service's endpoint (an update of its
  EndpointSlice) until the rule for the new address is in the table, several times (median and max).
The table is read with `nft` every 10 ms (the new endpoint's rules are found by their chain name, FNV hashes
of the service port and the endpoint, as `ProxyRules` names them). The issue's goal for a change: within 1 s.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

import lib
from scheduler_throughput import get_json, send_json
from service_proxy import HerdNode

GOAL_CHANGE_MS = 1000


def fnv_hex(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def nft(args):
    return subprocess.run(["nft"] + args, capture_output=True, text=True, timeout=30)


def create_service(url, i):
    name = f"s{i:04d}"
    svc = send_json(url, "POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
    send_json(url, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", slice_body(name, endpoint_ip(i, 0)))
    return svc["spec"]["clusterIP"]


def endpoint_ip(i, generation):
    # 10.240.<200+generation>.x: inside the server's pod range, never assigned to a pod by this short run
    return f"10.240.{200 + generation}.{1 + i % 250}"


def slice_body(name, ip, resource_version=None):
    meta = {"name": name, "labels": {"kubernetes.io/service-name": name}}
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}]}


def run_once(services, changes):
    node_name = "bench-sync"
    with HerdNode("nftables", node_name) as node:
        table = "herd-proxy-" + fnv_hex(node_name)[:8]
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            ips = list(ex.map(lambda i: create_service(node.url, i), range(services)))
        created = time.monotonic() - start
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            out = nft(["list", "map", "ip", table, "service-ips"]).stdout
            if sum(1 for ip in ips if ip + " . tcp . 80" in out) == services:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the table did not hold all {services} services in 300 s")
        all_in = time.monotonic() - start
        delays = []
        for c in range(changes):
            i = (c * 97) % services
            name = f"s{i:04d}"
            new_ip = endpoint_ip(i, 1 + c % 2)
            # the new endpoint's chain, named by the service port and the endpoint (as ProxyRules names it)
            chain = "svc-" + fnv_hex(f"default/{name}/http/tcp") + "-ep-" + fnv_hex(f"{new_ip}:8080")[:12]
            current = get_json(node.url, f"/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/{name}")
            sent = time.monotonic()
            send_json(node.url, "PUT", f"/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/{name}",
                      slice_body(name, new_ip, current["metadata"]["resourceVersion"]))
            deadline = sent + 30
            while time.monotonic() < deadline:
                if f"dnat to {new_ip}:8080" in nft(["list", "chain", "ip", table, chain]).stdout:
                    break
                time.sleep(0.01)
            else:
                raise RuntimeError(f"the change to {name} did not reach the table in 30 s")
            delays.append((time.monotonic() - sent) * 1000)
            time.sleep(0.3)
        for i in range(services):  # the node's stop deletes only its own workloads
            try:
                send_json(node.url, "DELETE", f"/api/v1/namespaces/default/services/s{i:04d}", {})
            except OSError:
                pass
        return {"created": created, "all_in": all_in, "delays": sorted(delays), "load": lib.loadavg()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--changes", type=int, default=10)
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("proxy_sync.py runs a real node with the nftables proxy: run it as root")
    lib.banner(f"Service changes to the data path with {a.services} Services (nftables proxy)",
               ["bench/proxy_sync.py"] + sys.argv[1:])
    rows, medians = [], []
    for run in range(a.runs):
        r = run_once(a.services, a.changes)
        med = lib.median(r["delays"])
        medians.append(med)
        rows.append([run + 1, f"{r['created']:.1f}", f"{r['all_in']:.1f}", f"{med:.0f}", f"{r['delays'][-1]:.0f}",
                     f"{r['load']:.2f}"])
    print(lib.table(["run", f"{a.services} created s", f"all in the table s", "change median ms", "change max ms", "load"],
                    rows))
    m = lib.median(medians)
    print()
    print(f"median time for a change to reach the data path with {a.services} services: {m:.0f} ms "
          f"(goal <= {GOAL_CHANGE_MS} ms: {'met' if m <= GOAL_CHANGE_MS else 'MISSED'})")


if __name__ == "__main__":
    main()
