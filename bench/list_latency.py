#!/usr/bin/env python3
"""Goal (b): listing 10,000 pods takes <= 300 ms.

Starts a fresh herd, creates 10,000 pods of 2 KB, then times `curl` GETs of
/api/v1/namespaces/default/pods: the plain JSON list, the Table kubectl asks for, and kubectl's paged
form (limit=500, following metadata.continue, time summed over pages), in JSON and as Table.
The variants take turns within each round so a burst of load on the machine hits them alike.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import lib

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
PATH = "/api/v1/namespaces/default/pods"


def curl(url, accept, out_path):
    """One GET with curl; returns (seconds, bytes)."""
    res = subprocess.run(["curl", "-s", "-o", out_path, "-w", "%{time_total} %{size_download} %{http_code}",
                          "-H", f"Accept: {accept}", "--max-time", "60", url],
                         capture_output=True, text=True, timeout=90)
    t, size, code = res.stdout.split()
    if code != "200":
        raise RuntimeError(f"GET {url}: HTTP {code}")
    return float(t), int(size)


def count_items(doc):
    return len(doc["rows"]) if doc.get("kind") == "Table" else len(doc["items"])


def list_once(base, accept, limit, out_path):
    """Time one whole listing; with a limit, follow continue tokens and sum the time of every page."""
    total_t, total_b, items, pages, cont = 0.0, 0, 0, 0, None
    while True:
        url = base + PATH
        if limit:
            url += f"?limit={limit}" + (f"&continue={cont}" if cont else "")
        t, b = curl(url, accept, out_path)
        with open(out_path) as f:
            doc = json.load(f)
        total_t += t
        total_b += b
        items += count_items(doc)
        pages += 1
        cont = doc["metadata"].get("continue")
        if not limit or not cont:
            return total_t, total_b, items, pages
        if pages > 1000:
            raise RuntimeError("more than 1000 pages: continue token never ends")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--pods", type=int, default=10000)
    a = p.parse_args()
    lib.banner("List latency: GET 10,000 pods", ["bench/list_latency.py"] + sys.argv[1:])

    variants = [("JSON list", "application/json", None),
                ("Table (kubectl get)", TABLE, None),
                ("JSON, limit=500 pages summed", "application/json", 500),
                ("Table, limit=500 pages summed (kubectl get)", TABLE, 500)]
    with lib.Herd(controllers=False) as herd, tempfile.TemporaryDirectory(prefix="bench-list-") as d:
        fill = lib.fill_pods(herd, a.pods)
        n = fill["stored"]
        print(f"created {fill['requests']} pods in {fill['duration_us'] / 1e6:.1f} s ({fill['collisions']} generateName "
              f"collisions answered 409, replaced); {n} pods present; herd RSS {lib.rss_mb(herd.pid):.0f} MiB\n")
        out = os.path.join(d, "body.json")
        samples = {v[0]: [] for v in variants}
        for i in range(a.runs):
            for name, accept, limit in variants:
                load = lib.loadavg()
                t, b, items, pages = list_once(herd.url, accept, limit, out)
                if items != n:
                    raise RuntimeError(f"{name}: got {items} items, expected {n}")
                samples[name].append((t, b, pages, load))
                print(f"  round {i + 1} {name}: {t * 1000:.0f} ms, {b / 1e6:.1f} MB, {pages} page(s), "
                      f"load {load:.2f}", flush=True)
        rss = lib.rss_mb(herd.pid)

    rows = []
    for name, _, limit in variants:
        s = samples[name]
        ts = [x[0] * 1000 for x in s]
        med = lib.median(ts)
        rows.append([name, f"{med:.0f}", f"{min(ts):.0f}", f"{max(ts):.0f}", f"{ts[0]:.0f}",
                     f"{s[0][1] / 1e6:.1f}", s[0][2], f"{med / 300:.2f}x",
                     "yes" if med <= 300 else "NO", f"{lib.median([x[3] for x in s]):.2f}"])
    print()
    print(lib.table(["request", "median ms", "min ms", "max ms", "first ms", "MB", "pages", "vs 300 ms goal",
                     "goal met", "load avg"], rows))
    print(f"\n{n} pods, {a.runs} rounds; herd RSS after the lists {rss:.0f} MiB; "
          f"load average at end: {lib.loadavg():.2f}")


if __name__ == "__main__":
    main()
