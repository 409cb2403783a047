#!/usr/bin/python3
"""Benchmark: agent RSS and /metrics time watching 10,000 entities.

Builds a state store with ENTITIES entity-state rows (100 profiles), runs
`linkwatch run` with the default rules (examples/rules/synapse-link.yaml) and
no profiles, waits for several polls, then reads VmRSS/VmHWM from /proc and
times GET /metrics.

Usage: bench/watcher_memory.py [--entities 10000] [--binary build/linkwatch]
"""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=10000)
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "linkwatch"))
    args = ap.parse_args()
    harness.BINARY = os.path.abspath(args.binary)
    d = tempfile.mkdtemp(prefix="lw_mem_")
    try:
        port = harness.free_port()
        shutil.copy(os.path.join(HERE, "..", "examples", "rules", "synapse-link.yaml"),
                    os.path.join(d, "rules.yaml"))
        cfg = os.path.join(d, "linkwatch.yaml")
        with open(cfg, "w") as f:
            f.write("state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                    "watch: {interval: 1s, rule_files: [rules.yaml]}\n" % port)
        agent = harness.Agent(cfg).start()
        harness.wait_for(lambda: harness.http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200,
                         what="ready")
        con = sqlite3.connect(os.path.join(d, "state.db"))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
        profiles = 100
        for p in range(profiles):
            con.execute("INSERT INTO synapselinkprofile(synapselinkprofileid, name, profilestate) "
                        "VALUES (?, ?, 1)", ("p%05d" % p, "profile%03d" % p))
        for i in range(args.entities):
            pid = "p%05d" % (i % profiles)
            con.execute("INSERT INTO synapselinkprofileentity(synapselinkprofileentityid, "
                        "entityname, profile, appendonlymode) VALUES (?, ?, ?, 0)",
                        ("e%06d" % i, "table%05d" % i, pid))
            # 1% stalled so alerts exist too.
            con.execute("INSERT INTO synapselinkprofileentitystate(entityname, profile, "
                        "profileentity, syncstate, initialsyncstate, lastsynceddatatime, "
                        "crmrecordcount, lakerecordcount, additiontime) "
                        "VALUES (?, ?, ?, 2, 4, ?, 1000, 1000, ?)",
                        ("table%05d" % i, pid, "e%06d" % i, stale if i % 100 == 0 else now, now))
        con.commit()
        con.close()
        time.sleep(8)  # several polls and evaluations
        t0 = time.time()
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port) as r:
            body = r.read()
        scrape_ms = (time.time() - t0) * 1000
        status = {}
        with open("/proc/%d/status" % agent.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                status[k] = v.strip()
        print("watcher memory, %d entities in %d profiles, default rules, %d cores"
              % (args.entities, profiles, os.cpu_count()))
        print("  RSS now %s, peak (VmHWM) %s   target <= 64 MB" % (status["VmRSS"],
                                                                   status["VmHWM"]))
        print("  GET /metrics: %.1f ms, %.1f MB   target <= 50 ms" % (scrape_ms,
                                                                      len(body) / 1e6))
        agent.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
