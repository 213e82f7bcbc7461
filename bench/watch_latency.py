#!/usr/bin/env python3
"""Goal (c): a pod create reaches each of 100 watchers within 50 ms (p99).

Each run starts a fresh herd, opens 100 watch streams (GET .../pods?watch=true&resourceVersion=<current>),
then a separate producer process creates 1,000 pods at a steady 50/s; each pod carries its send time in
the annotation bench/sent (unix nanoseconds, taken just before the request is written). The watcher side
is one thread on epoll: it stamps every recv() and, for every event line completed by that recv, records
arrival - sent. Both processes read the same clock (CLOCK_REALTIME).
"""

import argparse
import http.client
import json
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

import lib

PODS = "/api/v1/namespaces/default/pods"
SENT = re.compile(rb'"bench/sent":"(\d+)"')


# ---------------------------------------------------------------- producer (own process)

def produce(url, count, rate, threads=4):
    """Create `count` pods at `rate`/s from `threads` keep-alive connections; print a JSON summary."""
    host, port = url.split("//")[1].split(":")
    t0 = time.monotonic() + 0.2
    latencies, failures, acked, lock = [], [], {}, threading.Lock()

    def worker(k):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for i in range(k, count, threads):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = time.time_ns()
            body = lib.pod_body(annotations={"bench/sent": str(sent)})
            start = time.monotonic()
            try:
                conn.request("POST", PODS, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                done = time.time_ns()
                ok = resp.status == 201
            except OSError as e:
                ok, conn = False, http.client.HTTPConnection(host, int(port), timeout=30)
                resp = e
            with lock:
                latencies.append(time.monotonic() - start)
                if ok:
                    acked[sent] = done
                else:
                    failures.append(str(getattr(resp, "status", resp)))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    latencies.sort()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"created": count - len(failures), "failures": failures[:5], "nfailures": len(failures),
                      "p50": lib.percentile(latencies, 50), "p99": lib.percentile(latencies, 99),
                      "wall": time.monotonic() - t0, "cpu": ru.ru_utime + ru.ru_stime, "acked": acked}))


# ---------------------------------------------------------------- watchers

class Watcher:
    """One watch stream: parses the HTTP response head, undoes chunked encoding, splits event lines."""

    def __init__(self, url, rv):
        host, port = url.split("//")[1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(f"GET {PODS}?watch=true&resourceVersion={rv} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                          "Accept: application/json\r\n\r\n".encode())
        self.sock.setblocking(False)
        self.raw = bytearray()
        self.head = None          # response head once complete
        self.chunked = False
        self.remaining = 0        # bytes left in the current chunk
        self.body = bytearray()   # de-chunked bytes not yet split into lines
        self.events = 0
        self.closed = False

    def feed(self, data, now, delays):
        self.raw += data
        if self.head is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = bytes(self.raw[:end]).decode("latin-1")
            if not self.head.startswith("HTTP/1.1 200"):
                raise RuntimeError(f"watch failed: {self.head.splitlines()[0]}")
            self.chunked = "transfer-encoding: chunked" in self.head.lower()
            del self.raw[:end + 4]
        if self.chunked:
            self._dechunk()
        else:
            self.body += self.raw
            self.raw.clear()
        while (nl := self.body.find(b"\n")) >= 0:
            line = self.body[:nl]
            del self.body[:nl + 1]
            m = SENT.search(line)
            if m:
                self.events += 1
                delays.append((int(m.group(1)), now))

    def _dechunk(self):
        while self.raw:
            if self.remaining:
                take = min(self.remaining, len(self.raw))
                self.body += self.raw[:take]
                del self.raw[:take]
                self.remaining -= take
                continue
            i = self.raw.find(b"\r\n")
            if i < 0:
                return
            size_line = bytes(self.raw[:i])
            del self.raw[:i + 2]
            if not size_line:         # the CRLF that ends a chunk's data
                continue
            self.remaining = int(size_line.split(b";")[0], 16)
            if self.remaining == 0:
                self.closed = True
                return


def run_once(n_watchers, count, rate):
    with lib.Herd() as herd:
        rv = herd.resource_version()
        watchers = [Watcher(herd.url, rv) for _ in range(n_watchers)]
        sel = selectors.DefaultSelector()
        for w in watchers:
            sel.register(w.sock, selectors.EVENT_READ, w)
        delays = []

        def pump(until, stop=lambda: False):
            while time.monotonic() < until and not stop():
                for key, _ in sel.select(timeout=0.1):
                    w = key.data
                    try:
                        data = w.sock.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    now = time.time_ns()
                    if not data:
                        sel.unregister(w.sock)
                        w.closed = True
                        continue
                    w.feed(data, now, delays)

        # the streams are registered once every response head is in (or after 10 s at the latest)
        pump(time.monotonic() + 10, lambda: all(w.head for w in watchers))
        opened = sum(1 for w in watchers if w.head)
        load = lib.loadavg()
        herd_cpu0, ru0, wall0 = lib.cpu_seconds(herd.pid), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        producer = subprocess.Popen([sys.executable, __file__, "--produce", herd.url, str(count), str(rate)],
                                    stdout=subprocess.PIPE, text=True)
        try:
            expected = n_watchers * count
            pump(time.monotonic() + count / rate + 30, lambda: sum(w.events for w in watchers) >= expected)
            out, _ = producer.communicate(timeout=60)
        finally:
            if producer.poll() is None:
                producer.kill()
                producer.wait()
        wall = time.monotonic() - wall0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        herd_cpu = lib.cpu_seconds(herd.pid) - herd_cpu0
        for w in watchers:
            w.sock.close()
        prod = json.loads(out)
    acked = {int(k): v for k, v in prod["acked"].items()}
    after_ack = sorted((now - acked[sent]) / 1e6 for sent, now in delays if sent in acked)
    delays = sorted((now - sent) / 1e6 for sent, now in delays)
    return {"ack_p50": lib.percentile(after_ack, 50), "ack_p99": lib.percentile(after_ack, 99),
            "opened": opened, "delivered": len(delays), "expected": n_watchers * prod["created"],
            "p50": lib.percentile(delays, 50), "p90": lib.percentile(delays, 90),
            "p99": lib.percentile(delays, 99), "max": delays[-1] if delays else float("nan"),
            "create_p50": prod["p50"] * 1000, "create_p99": prod["p99"] * 1000, "create_failures": prod["nfailures"],
            "watch_cpu": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall * 100,
            "producer_cpu": prod["cpu"] / wall * 100, "herd_cpu": herd_cpu / wall * 100, "load": load}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--produce":
        produce(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--rate", type=float, default=50)
    a = p.parse_args()
    lib.banner("Watch delivery latency", ["bench/watch_latency.py"] + sys.argv[1:])
    print(f"{a.watchers} watchers, {a.pods} pods at {a.rate:g}/s, {a.runs} runs, fresh herd per run\n")

    results = []
    for i in range(a.runs):
        r = run_once(a.watchers, a.pods, a.rate)
        r["run"] = i + 1
        results.append(r)
        print(f"  run {i + 1}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms, "
              f"{r['delivered']}/{r['expected']} delivered, load {r['load']:.2f}", flush=True)

    cols = ["run", "streams open", "delivered", "p50 ms", "p90 ms", "p99 ms", "max ms", "create p50 ms",
            "create p99 ms", "after create response: p50 ms", "after create response: p99 ms", "create failures", "watch client CPU %", "producer CPU %", "herd CPU %", "load avg"]
    fmt = lambda r: [r["run"], r["opened"], f"{r['delivered']}/{r['expected']}", f"{r['p50']:.1f}",
                     f"{r['p90']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}", f"{r['create_p50']:.1f}",
                     f"{r['create_p99']:.1f}", f"{r['ack_p50']:.1f}", f"{r['ack_p99']:.1f}", r["create_failures"], f"{r['watch_cpu']:.0f}",
                     f"{r['producer_cpu']:.0f}", f"{r['herd_cpu']:.0f}", f"{r['load']:.2f}"]
    med = {k: lib.median([r[k] for r in results]) for k in results[0] if k not in ("run",)}
    med["run"] = "median (delivered: sum)"
    med["opened"] = min(r["opened"] for r in results)
    med["delivered"] = sum(r["delivered"] for r in results)
    med["expected"] = sum(r["expected"] for r in results)
    med["create_failures"] = sum(r["create_failures"] for r in results)
    print()
    print(lib.table(cols, [fmt(r) for r in results] + [fmt(med)]))
    print(f"\nmedian p99 {med['p99']:.1f} ms = {med['p99'] / 50:.2f}x the 50 ms goal: "
          f"{'MET' if med['p99'] <= 50 and med['delivered'] == med['expected'] else 'MISSED'}; "
          f"load average at end: {lib.loadavg():.2f}")


if __name__ == "__main__":
    main()
