#!/usr/bin/python3
"""Benchmark: state change -> webhook delivered, linkwatch vs. the Prometheus path.

In one run, on the same state store and the same webhook receiver:
  * linkwatch: `run` watching the state store (watch.interval = INTERVAL),
    a rule, route group_wait 0s -> webhook.
  * the peer a Prometheus user would build: a real Prometheus scraping
    linkwatch's /metrics every INTERVAL with an equivalent alerting rule
    (evaluation_interval = INTERVAL), a real Alertmanager (group_wait 0s) ->
    the same receiver.

"data" trials: a row changes (initialsyncstate -> CompletedWithFailures) at t0;
latency = POST arrival - t0.  "time" trials: lastsynceddatatime is written so
that age() crosses the 30s threshold 2s later (t_cross); latency = POST arrival
- t_cross.  Prints p50/p99/max for each path.

Usage: bench/change_to_delivered.py [--trials 50] [--interval 1s] [--binary build/linkwatch]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import (Agent, Receiver, StateDb, free_port, http_get, iso,  # noqa: E402
                     percentile, wait_for)


def summary(name, values):
    ms = [v * 1000 for v in values]
    return "%-34s n=%3d  p50 %7.0f ms  p99 %7.0f ms  max %7.0f ms" % (
        name, len(ms), percentile(ms, 50), percentile(ms, 99), max(ms) if ms else float("nan"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--time-trials", type=int, default=10)
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                     "linkwatch"))
    args = ap.parse_args()
    os.environ["LINKWATCH_BIN"] = os.path.abspath(args.binary)
    import harness
    harness.BINARY = os.path.abspath(args.binary)
    interval_s = float(args.interval.rstrip("s"))

    prom = shutil.which("prometheus")
    am = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    d = tempfile.mkdtemp(prefix="lw_bench_")
    procs = []
    receiver = Receiver()
    try:
        port = free_port()
        with open(os.path.join(d, "rules.yaml"), "w") as f:
            f.write("""groups:
  - name: bench
    rules:
      - alert: InitialSyncFailed
        expr: initialsyncstate == "CompletedWithFailures"
      - alert: SyncStalled
        expr: syncstate == "InProgress" and age(lastsynceddatatime) > 30s
""")
        cfg = os.path.join(d, "linkwatch.yaml")
        with open(cfg, "w") as f:
            f.write("""state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: %s, rule_files: [rules.yaml]}
receivers: [{name: hooks, webhook: {url: "%s/linkwatch"}}]
route: {receiver: hooks, group_by: [alertname, entity], group_wait: 0s, group_interval: 1s}
""" % (port, args.interval, receiver.url))
        agent = Agent(cfg).start()
        procs.append(agent)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="ready")
        db = StateDb(os.path.join(d, "state.db"))
        db.add_profile("crm")
        n = args.trials + args.time_trials
        for i in range(n):
            # lastsynceddatatime in the future: no table stalls until a trial makes it.
            db.add_entity("crm", "t%03d" % i, synced=time.time() + 86400)

        have_peer = bool(prom and am)
        if have_peer:
            am_port, prom_port = free_port(), free_port()
            with open(os.path.join(d, "am.yml"), "w") as f:
                f.write("""route:
  receiver: hooks
  group_by: [alertname, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hooks
    webhook_configs: [{url: "%s/alertmanager", send_resolved: false}]
""" % receiver.url)
            procs.append(subprocess.Popen(
                [am, "--config.file=" + os.path.join(d, "am.yml"),
                 "--storage.path=" + os.path.join(d, "am"),
                 "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address="],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            with open(os.path.join(d, "prom-rules.yml"), "w") as f:
                f.write("""groups:
  - name: bench
    rules:
      - alert: InitialSyncFailed
        expr: linkwatch_entity_initial_sync_state{state="CompletedWithFailures"} == 1
      - alert: SyncStalled
        expr: linkwatch_entity_sync_state{state="InProgress"} == 1 and on(source, profile, entity) (time() - linkwatch_entity_last_synced_timestamp_seconds) > 30
""")
            with open(os.path.join(d, "prometheus.yml"), "w") as f:
                f.write("""global: {scrape_interval: %s, evaluation_interval: %s}
rule_files: [prom-rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['127.0.0.1:%d']}]}]
scrape_configs:
  - job_name: linkwatch
    static_configs: [{targets: ['127.0.0.1:%d']}]
""" % (args.interval, args.interval, am_port, port))
            procs.append(subprocess.Popen(
                [prom, "--config.file=" + os.path.join(d, "prometheus.yml"),
                 "--storage.tsdb.path=" + os.path.join(d, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % prom_port],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for(lambda: http_get("http://127.0.0.1:%d/-/ready" % prom_port)[0] == 200,
                     timeout=60, what="prometheus ready")
            time.sleep(3 * interval_s + 1)  # a few scrapes of the healthy state

        def arrival(path, alertname, entity):
            for p in list(receiver.posts):
                if p[0].endswith(path):
                    for a in p[2]["alerts"]:
                        if (a["labels"].get("alertname") == alertname
                                and a["labels"].get("entity") == entity
                                and a["status"] == "firing"):
                            return p[3]
            return None

        lw_data, am_data, lw_time, am_time = [], [], [], []
        for i in range(args.trials):
            e = "t%03d" % i
            t0 = time.time()
            db.set_entity(e, initialsyncstate=8)
            t_lw = wait_for(lambda: arrival("/linkwatch", "InitialSyncFailed", e), timeout=30,
                            interval=0.002, what="linkwatch post")
            lw_data.append(t_lw - t0)
            if have_peer:
                t_am = wait_for(lambda: arrival("/alertmanager", "InitialSyncFailed", e),
                                timeout=60, interval=0.01, what="alertmanager post")
                am_data.append(t_am - t0)
            else:
                time.sleep(0.05)
        for i in range(args.trials, n):
            e = "t%03d" % i
            # iso() keeps whole seconds: the crossing is 30 s after the written value.
            synced = int(time.time() + 2 - 30)
            t_cross = synced + 30
            db.set_entity(e, lastsynceddatatime=iso(synced))
            t_lw = wait_for(lambda: arrival("/linkwatch", "SyncStalled", e), timeout=60,
                            interval=0.005, what="linkwatch post (time)")
            lw_time.append(t_lw - t_cross)
            if have_peer:
                t_am = wait_for(lambda: arrival("/alertmanager", "SyncStalled", e), timeout=60,
                                interval=0.01, what="alertmanager post (time)")
                am_time.append(t_am - t_cross)

        print("change -> delivered, watch.interval = scrape = evaluation interval = %s, "
              "group_wait 0s, %d cores" % (args.interval, os.cpu_count()))
        print(summary("linkwatch (data change)", lw_data))
        if have_peer:
            print(summary("Prometheus+Alertmanager (data)", am_data))
        print(summary("linkwatch (age() crosses)", lw_time))
        if have_peer:
            print(summary("Prometheus+Alertmanager (time)", am_time))
        else:
            print("peer not measured: Debian packages prometheus and prometheus-alertmanager "
                  "are needed")
    finally:
        for p in procs:
            if isinstance(p, Agent):
                p.stop()
            else:
                p.terminate()
                p.wait(10)
        receiver.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
