#!/usr/bin/env python3
"""Goal (a): pod create throughput of herd against etcd 3.4 puts of the same size and concurrency.

Each run starts a fresh etcd and a fresh herd (in alternating order) and drives both with the same
wrk script shape: 16 connections, 10,000 requests. herd gets POST /api/v1/namespaces/default/pods of
a 2 KB pod with generateName; etcd gets POST /v3/kv/put through its JSON gateway with a new key per
request and, as value, the object herd stored for that pod (so both store the same bytes per write).
"""

import argparse
import sys
import tempfile
import json
import urllib.request

import lib


def herd_run(body_path, n, conns):
    with lib.Herd(controllers=False) as herd:
        cpu0, load = lib.cpu_seconds(herd.pid), lib.loadavg()
        r = lib.run_wrk(herd.url, lib.WRK_HERD_CREATE, {"BENCH_BODY_FILE": body_path}, n, conns)
        r["server_cpu"] = lib.cpu_seconds(herd.pid) - cpu0
        r["load"] = load
        r["stored"] = herd.settled_pod_count()
    return r


def etcd_run(value_path, n, conns):
    with lib.Etcd() as etcd:
        cpu0, load = lib.cpu_seconds(etcd.pid), lib.loadavg()
        r = lib.run_wrk(etcd.url, lib.WRK_ETCD_PUT, {"BENCH_VALUE_B64_FILE": value_path}, n, conns)
        r["server_cpu"] = lib.cpu_seconds(etcd.pid) - cpu0
        r["load"] = load
        # every key under the prefix, to check that each put wrote its own key
        q = json.dumps({"key": lib.b64(b"/registry/pods/"), "range_end": lib.b64(b"/registry/pods0"),
                        "count_only": True}).encode()
        req = urllib.request.Request(etcd.url + "/v3/kv/range", data=q, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            r["stored"] = int(json.load(resp).get("count", 0))
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--requests", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=16)
    a = p.parse_args()
    lib.banner("Create throughput: herd pod creates vs etcd 3.4 puts", ["bench/create_throughput.py"] + sys.argv[1:])

    body = lib.pod_body()
    with lib.Herd(controllers=False) as herd:
        stored = lib.create_one(herd.url, body)
    print(f"request body {len(body)} bytes; stored pod {len(stored)} bytes (the etcd value); "
          f"{a.requests} requests, {a.concurrency} connections (one wrk thread), {a.runs} runs\n")

    with tempfile.NamedTemporaryFile(suffix=".json") as bf, tempfile.NamedTemporaryFile(suffix=".b64") as vf:
        bf.write(body); bf.flush()
        vf.write(lib.b64(stored).encode()); vf.flush()
        results = {"herd": [], "etcd": []}
        for i in range(a.runs):
            order = ["etcd", "herd"] if i % 2 == 0 else ["herd", "etcd"]
            for system in order:
                if system == "herd":
                    r = herd_run(bf.name, a.requests, a.concurrency)
                else:
                    r = etcd_run(vf.name, a.requests, a.concurrency)
                r["run"] = i + 1
                r["cpu_per_req"] = r["server_cpu"] / r["requests"]
                results[system].append(r)
                print(f"  run {i + 1} {system}: {r['rps']:.0f} req/s, p50 {r['p50_us'] / 1000:.2f} ms, "
                      f"p99 {r['p99_us'] / 1000:.2f} ms, failures {r['failures']}, load {r['load']:.2f}",
                      flush=True)
                for sample in r["failed_samples"][:2]:
                    print(f"    failed: {sample}")

    rows = []
    for system in ("etcd", "herd"):
        for r in results[system]:
            rows.append([r["run"], system, f"{r['rps']:.0f}", f"{r['p50_us'] / 1000:.2f}",
                         f"{r['p99_us'] / 1000:.2f}", f"{r['max_us'] / 1000:.1f}", r["requests"], r["failures"],
                         r["stored"], f"{r['server_cpu']:.1f}", f"{r['load']:.2f}"])
    print()
    print(lib.table(["run", "system", "req/s", "p50 ms", "p99 ms", "max ms", "responses", "failures",
                     "objects stored", "server CPU s", "load avg"], rows))

    med = {s: {k: lib.median([r[k] for r in results[s]]) for k in ("rps", "p50_us", "p99_us", "cpu_per_req")}
           for s in results}
    ratio = med["herd"]["rps"] / med["etcd"]["rps"]
    per_run = [h["rps"] / e["rps"] for h, e in zip(results["herd"], results["etcd"])]
    print()
    rows = []
    for s in ("etcd", "herd"):
        m = med[s]
        rows.append([s, f"{m['rps']:.0f}", f"{m['p50_us'] / 1000:.2f}", f"{m['p99_us'] / 1000:.2f}",
                     sum(r["failures"] for r in results[s]),
                     f"{m['cpu_per_req'] * 1e6:.0f}",
                     f"{m['rps'] / med['etcd']['rps']:.2f}x"])
    print(lib.table(["system", "median req/s", "median p50 ms", "median p99 ms", "failures (all runs)",
                     "server CPU us/req", "vs etcd"], rows))
    print()
    print(f"herd/etcd throughput ratio (median of runs): {ratio:.2f}x; per run: "
          + ", ".join(f"{x:.2f}x" for x in per_run))
    print(f"goal >= 1.0x etcd: {'MET' if ratio >= 1.0 else 'MISSED'}; load average at end: {lib.loadavg():.2f}")


if __name__ == "__main__":
    main()
