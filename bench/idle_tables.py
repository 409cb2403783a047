#!/usr/bin/python3
"""Benchmark: the idle cost of linked tables (issue 9 point 5).

One SQLite source with N change-tracked tables of a few rows each, one
profile linking all of them into a lake (sync_interval 1s, the default), the
example rules (examples/rules/synapse-link.yaml) watched at the default
watch.interval (15s; --watch-interval sets another). After every table's
initial sync and first snapshot completed and a settling pause, nothing
changes; over --window seconds the agent's CPU time is read from
/proc/<pid>/stat (utime + stime), then its thread count and resident memory
from /proc/<pid>/status, then how long a SIGTERM takes to stop it.

Measured side by side in one run: the previous code (--old-binary) and this
code, each with --old-tables and with --tables tables. The target: at most 1 % of a core with 500 tables, and
a thread count that does not grow with the tables.

Usage: bench/idle_tables.py [--tables 500] [--old-tables 50] [--window 30]
                            [--watch-interval 1s]
                            [--binary build/linkwatch]
                            [--old-binary /work/bench-old/linkwatch-issue8]
"""
import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def build_source(path, binary, tables):
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    for i in range(tables):
        con.execute("CREATE TABLE t%d(id INTEGER PRIMARY KEY, name TEXT, createdon TEXT)" % i)
        con.executemany("INSERT INTO t%d VALUES (?, ?, '2026-01-01T00:00:00Z')" % i,
                        [(k, "row %d" % k) for k in range(5)])
    con.commit()
    con.close()
    args = [binary, "source", "enable-change-tracking", "--db", path]
    for i in range(tables):
        args += ["--table", "t%d" % i]
    subprocess.run(args, check=True, capture_output=True)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def thread_cpu(pid):
    """CPU seconds per thread name (schedstat: nanoseconds on a CPU, finer
    than the clock ticks of /proc/<pid>/stat)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
        except OSError:  # the thread ended meanwhile
            continue
        out[name] = out.get(name, 0) + ns / 1e9
    return out


def measure(binary, tables, window, settle, watch_interval):
    d = tempfile.mkdtemp(prefix="lw_idle_")
    try:
        build_source(os.path.join(d, "crm.db"), binary, tables)
        shutil.copy(os.path.join(HERE, "..", "examples", "rules", "synapse-link.yaml"),
                    os.path.join(d, "rules.yaml"))
        port = harness.free_port()
        cfg = os.path.join(d, "linkwatch.yaml")
        with open(cfg, "w") as f:
            f.write("state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                    "watch: {%srule_files: [rules.yaml]}\n"
                    "profiles:\n  - name: crm\n    source: {type: sqlite, path: crm.db}\n"
                    "    destination: {type: lake, path: lake}\n    sync_interval: 1s\n"
                    "    tables: [%s]\n" % (port, "interval: %s, " % watch_interval if watch_interval else "",
                                         ", ".join("t%d" % i for i in range(tables))))
        harness.BINARY = binary
        agent = harness.Agent(cfg).start()
        try:
            state = harness.StateDb(os.path.join(d, "state.db"))
            started = time.time()

            def synced():
                try:
                    return state.query("SELECT count(*) FROM synapselinkprofileentitystate "
                                       "WHERE initialsyncstate = 4")[0][0] == tables
                except Exception:  # the store is created by the agent
                    return False

            harness.wait_for(synced, timeout=600, interval=0.5, what="initial syncs")
            initial = time.time() - started

            def snapshotted():  # the first snapshot follows each initial sync
                try:
                    return state.query("SELECT count(*) FROM synapselinkexternaltablestate "
                                       "WHERE lastsynchronizedon IS NOT NULL")[0][0] >= tables
                except Exception:
                    return False

            harness.wait_for(snapshotted, timeout=600, interval=0.5, what="first snapshots")
            snapshots = time.time() - started - initial
            time.sleep(settle)  # a fixed window is the measurement itself
            pid = agent.proc.pid
            c0, t0, p0 = cpu_seconds(pid), time.time(), thread_cpu(pid)
            time.sleep(window)
            c1, t1, p1 = cpu_seconds(pid), time.time(), thread_cpu(pid)
            result = {"tables": tables, "initial_s": initial, "snapshots_s": snapshots,
                      "cpu": (c1 - c0) / (t1 - t0), "threads": threads(pid),
                      "rss_mb": rss_mb(pid),
                      "per_thread": {n: (p1[n] - p0.get(n, 0)) / (t1 - t0) for n in p1}}
            stop = time.time()
            agent.stop(timeout=300)
            result["stop_s"] = time.time() - stop
            return result
        finally:
            agent.stop(timeout=300)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=500)
    ap.add_argument("--old-tables", type=int, default=50)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--watch-interval", default="")  # "": linkwatch's default (15s)
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "linkwatch"))
    ap.add_argument("--old-binary", default="/work/bench-old/linkwatch-issue8")
    ap.add_argument("--only-this", action="store_true",
                    help="measure only --binary at --tables (no previous code)")
    args = ap.parse_args()
    runs = [("this code", os.path.abspath(args.binary), args.tables)] if args.only_this else [("previous", os.path.abspath(args.old_binary), args.old_tables),
            ("this code", os.path.abspath(args.binary), args.old_tables),
            ("previous", os.path.abspath(args.old_binary), args.tables),
            ("this code", os.path.abspath(args.binary), args.tables)]
    print("idle cost: %.0f s window after every initial sync and first snapshot completed "
          "(+%.0f s settling), watch.interval %s"
          % (args.window, args.settle, args.watch_interval or "15s (default)"))
    print("%-10s %7s %10s %9s %9s %14s %11s %7s" % ("code", "tables", "CPU", "threads", "RSS",
                                                    "initial syncs", "snapshots", "stop"))
    results = []
    for name, binary, tables in runs:
        r = measure(binary, tables, args.window, args.settle, args.watch_interval)
        results.append((name, r))
        print("%-10s %7d %9.2f%% %9d %6.0f MB %12.1f s %9.1f s %5.1f s"
              % (name, r["tables"], 100 * r["cpu"], r["threads"], r["rss_mb"], r["initial_s"],
                 r["snapshots_s"], r["stop_s"]), flush=True)
        print("           by thread: " + ", ".join(
            "%s %.2f%%" % (n, 100 * c) for n, c in sorted(r["per_thread"].items(),
                                                         key=lambda x: -x[1]) if c >= 0.0001),
            flush=True)
    big = results[-1][1]
    small = results[1][1] if len(results) > 1 else big  # this code at --old-tables
    print("target: <= 1%% of a core and threads not growing with tables: %s (%.2f%%, %d vs %d "
          "threads)" % ("met" if big["cpu"] <= 0.01 and big["threads"] <= small["threads"]
                        else "NOT met", 100 * big["cpu"], big["threads"],
                        small["threads"]))


if __name__ == "__main__":
    main()
