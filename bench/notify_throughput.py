#!/usr/bin/python3
"""Benchmark: notifications/s through the durable outbox, beside Alertmanager 0.25.

throughput (benchmarks.md "notifications/s"): N alerts, each its own group
(group_by [alertname, entity], group_wait 0s), to one local webhook receiver
answering 200 (build/bench/webhook_sink, keep-alive, a thread per connection).
  * linkwatch: `run` on a state store holding N healthy entities; at t0 one
    transaction turns all N to initialsyncstate CompletedWithFailures; the
    InitialSyncFailed rule fires for all N in the next watch round, and N
    notifications go through the outbox (SQLite, WAL, synchronous=FULL).
  * Alertmanager 0.25: the same N alerts POSTed to /api/v2/alerts in batches
    of 64 (what Prometheus sends), starting at t0, same route, same receiver.
Printed for each: throughput over the burst (N / (last delivery - t0)), the
rate between the first and the last delivery, and fired -> delivered p50/p99
(fired = t0 for linkwatch: it includes detecting the change and evaluating;
for Alertmanager the POST of the alert's batch).

chaos (--chaos): the receiver refuses the first request of every notification
(503 and 429 with Retry-After: 1 alternately, half of all requests), and the
agent is SIGKILLed twice mid-run and restarted. Printed: notifications
expected, delivered (200), lost, duplicates (accepted twice), and the requests
in flight at each kill.

--chaos-healthy: the same kills with a receiver that accepts everything, so
that deliveries run at full speed and group commit has the most in flight.

Usage: bench/notify_throughput.py [--alerts 5000] [--rounds 3] [--chaos-alerts 200]
                                  [--chaos-healthy] [--skip-throughput] [--skip-chaos]
                                  [--binary build/linkwatch]
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402
from harness import (Agent, StateDb, free_port, http_get, iso, percentile,  # noqa: E402
                     wait_for)

BUILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build")


class Sink:
    """build/bench/webhook_sink, its answers read line by line."""

    def __init__(self, fail_half=False):
        args = [os.path.join(BUILD, "bench", "webhook_sink")] + (["--fail-half"] if fail_half
                                                                 else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.lines = []  # (time, status, path, key)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            t, status, path, key = line.split(" ", 3)
            with self.lock:
                self.lines.append((float(t), int(status), path, key.rstrip("\n")))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def accepted(self, path):
        """key -> arrival times of the requests answered 200."""
        out = {}
        with self.lock:
            for t, status, p, key in self.lines:
                if p == path and status == 200:
                    out.setdefault(key, []).append(t)
        return out

    def count(self, path=None):
        with self.lock:
            return sum(1 for x in self.lines if path is None or x[2] == path)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def make_state(db_path, n):
    """A profile with n healthy entities, written in one transaction."""
    db = StateDb(db_path)
    db.add_profile("crm")
    con = sqlite3.connect(db_path, timeout=10)
    now = iso(time.time())
    with con:
        pid = con.execute("SELECT synapselinkprofileid FROM synapselinkprofile").fetchone()[0]
        for i in range(n):
            e = "e%05d" % i
            con.execute("INSERT INTO synapselinkprofileentity(entityname, profile) VALUES (?, ?)",
                        (e, pid))
            con.execute(
                "INSERT INTO synapselinkprofileentitystate(entityname, profile, profileentity, "
                "syncstate, initialsyncstate, lastsynceddatatime, crmrecordcount, "
                "lakerecordcount, additiontime) SELECT ?, ?, synapselinkprofileentityid, 2, 4, ?, "
                "100, 100, ? FROM synapselinkprofileentity WHERE entityname = ?",
                (e, pid, now, now, e))
    con.close()
    return db


def set_all(db_path, initialsyncstate):
    con = sqlite3.connect(db_path, timeout=10)
    with con:
        con.execute("UPDATE synapselinkprofileentitystate SET initialsyncstate = ?",
                    (initialsyncstate,))
    con.close()


def pending_keys(db_path):
    """The sink's keys of the notifications pending in the outbox."""
    con = sqlite3.connect(db_path, timeout=10)
    try:
        rows = con.execute("SELECT payload FROM linkwatch_outbox WHERE state = 'pending'")
        keys = []
        for (payload,) in rows:
            alerts = json.loads(payload)["alerts"]
            keys.append(",".join("%s/%s" % (a["labels"].get("entity", a["labels"].get(
                "alertname", "?")), "firing" if a["state"] == "firing" else "resolved")
                for a in alerts))
        return keys
    finally:
        con.close()


def write_agent(d, sink, path, port, extra=""):
    with open(os.path.join(d, "rules.yaml"), "w") as f:
        f.write("""groups:
  - name: bench
    rules:
      - alert: InitialSyncFailed
        expr: initialsyncstate == "CompletedWithFailures"
""")
    cfg = os.path.join(d, "linkwatch.yaml")
    with open(cfg, "w") as f:
        f.write("""state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: 1s, rule_files: [rules.yaml]}
receivers: [{name: hooks, webhook: {url: "%s"%s}}]
route: {receiver: hooks, group_by: [alertname, entity], group_wait: 0s, group_interval: 1h,
        repeat_interval: 24h}
""" % (port, sink.url(path), extra))
    return cfg


def start_agent(d, sink, path, n):
    """linkwatch over n healthy entities, past two watch rounds: (agent, cfg, state db)."""
    port = free_port()
    cfg = write_agent(d, sink, path, port)
    db_path = os.path.join(d, "state.db")
    agent = Agent(cfg).start()
    wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="ready")
    make_state(db_path, n)
    time.sleep(2.5)
    return agent, cfg, db_path


def wait_delivered(sink, path, n, t0, timeout):
    """Waits while deliveries progress (no progress for `timeout` s is a failure)."""
    last, last_change = -1, time.time()
    while True:
        got = len(sink.accepted(path))
        if got >= n:
            return
        if got != last:
            last, last_change = got, time.time()
        elif time.time() - last_change > timeout:
            raise RuntimeError("%s: %d of %d delivered, no progress for %d s" %
                               (path, got, n, timeout))
        time.sleep(0.01)


def report(name, arrivals, t_fired, n):
    """arrivals: key -> [times]; t_fired: key -> fired time."""
    first = {k: v[0] for k, v in arrivals.items()}
    t_start = min(t_fired.values())
    t_first, t_last = min(first.values()), max(first.values())
    lat = [(first[k] - t_fired[k]) * 1000 for k in first]
    print("%-16s n=%5d  %6.0f notifications/s (t0 -> last)  %6.0f/s (first -> last)  "
          "fired->delivered p50 %6.0f ms  p99 %6.0f ms  max %6.0f ms" %
          (name, len(first), n / (t_last - t_start),
           (n - 1) / (t_last - t_first) if t_last > t_first else float("inf"),
           percentile(lat, 50), percentile(lat, 99), max(lat)))
    return n / (t_last - t_start)


def throughput_linkwatch(n, sink, rnd):
    d = tempfile.mkdtemp(prefix="lw_notify_")
    path = "/linkwatch/%d" % rnd
    agent = None
    try:
        agent, _, db_path = start_agent(d, sink, path, n)
        t0 = time.time()
        set_all(db_path, 8)  # CompletedWithFailures
        wait_delivered(sink, path, n, t0, 60)
        arrivals = sink.accepted(path)
        return report("linkwatch", arrivals, {k: t0 for k in arrivals}, n)
    finally:
        if agent:
            agent.stop()
        shutil.rmtree(d, ignore_errors=True)


def throughput_alertmanager(n, sink, rnd, am_bin):
    d = tempfile.mkdtemp(prefix="am_notify_")
    path = "/alertmanager/%d" % rnd
    am = None
    try:
        am_port = free_port()
        with open(os.path.join(d, "am.yml"), "w") as f:
            f.write("""route:
  receiver: hooks
  group_by: [alertname, entity]
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: hooks
    webhook_configs: [{url: "%s", send_resolved: false}]
""" % sink.url(path))
        am = subprocess.Popen(
            [am_bin, "--config.file=" + os.path.join(d, "am.yml"),
             "--storage.path=" + os.path.join(d, "am"),
             "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = "http://127.0.0.1:%d" % am_port
        wait_for(lambda: http_get(base + "/-/ready")[0] == 200, timeout=30, what="am ready")
        starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        alerts = [{"labels": {"alertname": "InitialSyncFailed", "profile": "crm",
                              "entity": "e%05d" % i},
                   "annotations": {"summary": "initial sync failed"},
                   "startsAt": starts, "generatorURL": "http://127.0.0.1/"} for i in range(n)]
        batches = [alerts[i:i + 64] for i in range(0, n, 64)]
        bodies = [json.dumps(b).encode() for b in batches]
        t_fired = {}
        t0 = time.time()
        for batch, body in zip(batches, bodies):
            t = time.time()
            req = urllib.request.Request(base + "/api/v2/alerts", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=10).read()
            for a in batch:
                t_fired[a["labels"]["entity"] + "/firing"] = t
        wait_delivered(sink, path, n, t0, 60)
        arrivals = sink.accepted(path)
        return report("Alertmanager", arrivals, t_fired, n)
    finally:
        if am:
            am.terminate()
            am.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def chaos(n, fail_half=True):
    sink = Sink(fail_half=fail_half)
    d = tempfile.mkdtemp(prefix="lw_chaos_")
    path = "/chaos"
    agent = None
    try:
        agent, cfg, db_path = start_agent(d, sink, path, n)
        t0 = time.time()
        set_all(db_path, 8)
        in_flight = []  # per kill: notifications accepted by the sink, still pending
        for fraction in (1 / 3, 2 / 3):
            wait_for(lambda: len(sink.accepted(path)) >= int(n * fraction), timeout=600,
                     interval=0.01, what="deliveries before a kill")
            agent.kill()
            time.sleep(0.2)  # the answer to a request in flight arrives (or not) now
            accepted = sink.accepted(path)
            in_flight.append(sum(1 for k in pending_keys(db_path) if k in accepted))
            agent = Agent(cfg).start()
        wait_delivered(sink, path, n, t0, 120)
        time.sleep(3)  # late duplicates, if any, arrive now
        accepted = sink.accepted(path)
        dups = sum(len(v) - 1 for v in accepted.values())
        refused = sum(1 for x in sink.lines if x[2] == path and x[1] != 200)
        print("chaos: %d notifications, receiver refused %d of %d requests%s, agent SIGKILLed "
              "twice, %.1f s in all" % (n, refused, sink.count(path),
                                        " (503 / 429 Retry-After: 1)" if fail_half else "",
                                        time.time() - t0))
        print("chaos: delivered %d, lost %d, duplicates %d (in flight at the kills: %s = "
              "accepted by the receiver, deletion not yet durable)" %
              (len(accepted), n - len(accepted), dups, " + ".join(map(str, in_flight))))
    finally:
        if agent:
            agent.stop()
        sink.close()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chaos-alerts", type=int, default=200)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-chaos", action="store_true")
    ap.add_argument("--chaos-healthy", action="store_true",
                    help="the chaos receiver answers 200 to everything (kills only)")
    ap.add_argument("--binary", default=os.path.join(BUILD, "linkwatch"))
    args = ap.parse_args()
    harness.BINARY = os.path.abspath(args.binary)
    print("notifications: %d cores, %s" % (os.cpu_count(), harness.BINARY))
    if not args.skip_throughput:
        am_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        sink = Sink()
        try:
            for rnd in range(args.rounds):
                throughput_linkwatch(args.alerts, sink, rnd)
                if am_bin:
                    throughput_alertmanager(args.alerts, sink, rnd, am_bin)
                else:
                    print("Alertmanager not measured: Debian package prometheus-alertmanager")
        finally:
            sink.close()
    if not args.skip_chaos:
        chaos(args.chaos_alerts, fail_half=not args.chaos_healthy)


if __name__ == "__main__":
    main()
