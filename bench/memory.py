#!/usr/bin/env python3
"""Goal (d): herd's resident memory is <= 80 MB idle after start and <= 400 MB after 10,000 pods.

Each run starts a fresh herd, reads VmRSS from /proc/PID/status after it has been idle for a few
seconds, creates 10,000 pods of 2 KB (wrk, 16 connections), waits for it to settle and reads VmRSS
again; then lists all pods once (as a client would after the creates) and reads VmRSS and the peak
(VmHWM). Figures are MiB (VmRSS is reported in KiB).
"""

import argparse
import json
import sys
import time
import urllib.request

import lib

IDLE_GOAL, LOADED_GOAL = 80, 400


def peak_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def run_once(pods, settle):
    with lib.Herd() as herd:
        time.sleep(settle)
        idle, load = lib.rss_mb(herd.pid), lib.loadavg()
        fill = lib.fill_pods(herd, pods)
        time.sleep(settle)
        loaded = lib.rss_mb(herd.pid)
        with urllib.request.urlopen(herd.url + "/api/v1/namespaces/default/pods", timeout=120) as r:
            listed = len(json.load(r)["items"])
        time.sleep(settle)
        return {"idle": idle, "loaded": loaded, "after_list": lib.rss_mb(herd.pid), "peak": peak_mb(herd.pid),
                "pods": listed, "create_s": fill["duration_us"] / 1e6, "load": load}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait before each reading")
    a = p.parse_args()
    lib.banner("Server memory (VmRSS)", ["bench/memory.py"] + sys.argv[1:])

    results = []
    for i in range(a.runs):
        r = run_once(a.pods, a.settle)
        r["run"] = i + 1
        results.append(r)
        print(f"  run {i + 1}: idle {r['idle']:.1f} MiB, after {r['pods']} pods {r['loaded']:.1f} MiB, "
              f"after a list {r['after_list']:.1f} MiB, peak {r['peak']:.1f} MiB, load {r['load']:.2f}", flush=True)

    rows = [[r["run"], f"{r['idle']:.1f}", r["pods"], f"{r['create_s']:.1f}", f"{r['loaded']:.1f}",
             f"{r['after_list']:.1f}", f"{r['peak']:.1f}", f"{r['load']:.2f}"] for r in results]
    med = {k: lib.median([r[k] for r in results]) for k in ("idle", "loaded", "after_list", "peak", "create_s", "load")}
    rows.append(["median", f"{med['idle']:.1f}", "", f"{med['create_s']:.1f}", f"{med['loaded']:.1f}",
                 f"{med['after_list']:.1f}", f"{med['peak']:.1f}", f"{med['load']:.2f}"])
    print()
    print(lib.table(["run", "idle MiB", "pods", "create s", "after creates MiB", "after one list MiB",
                     "peak (VmHWM) MiB", "load avg"], rows))
    print()
    print(f"idle: {med['idle']:.1f} MiB = {med['idle'] / IDLE_GOAL:.2f}x the {IDLE_GOAL} MB goal: "
          f"{'MET' if med['idle'] <= IDLE_GOAL else 'MISSED'}")
    print(f"after {a.pods} pods: {med['loaded']:.1f} MiB = {med['loaded'] / LOADED_GOAL:.2f}x the {LOADED_GOAL} MB "
          f"goal: {'MET' if med['loaded'] <= LOADED_GOAL else 'MISSED'}; after a list as well: "
          f"{med['after_list']:.1f} MiB ({'MET' if med['after_list'] <= LOADED_GOAL else 'MISSED'})")
    print(f"load average at end: {lib.loadavg():.2f}")


if __name__ == "__main__":
    main()
