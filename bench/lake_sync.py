#!/usr/bin/python3
"""Benchmarks of the sync core into the lake (spec benchmarks.md).

  initial      1,000,000 rows x 10 columns from a change-tracked SQLite source
               to the lake: `run` start -> initial sync Completed, in place and
               append only; in the same run the peer `sqlite3 -csv db "select *
               from t" > file` on the same table; rows/s, the ratio, peak RSS.
  incremental  on the synced 1,000,000-row table, 1,000 changes/s (creates,
               updates, deletes) for --seconds: source commit -> the batch
               committed to the lake (the cursor stored after the partition
               files were replaced), p50/p99/max, in place; then a burst of
               --burst changes in one transaction (bulk), and a single-row
               change ("a handful of rows"), in place and append only, with
               append-only changes/s.

Usage: bench/lake_sync.py [--rows 1000000] [--seconds 30] [--burst 200000]
                          [--binary build/linkwatch] [--keep DIR]
"""
import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def build_source(path, rows):
    con = sqlite3.connect(path)
    con.executescript(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE t(id TEXT PRIMARY KEY, name TEXT, city TEXT, revenue REAL, "
        "employees INTEGER, active BOOLEAN, createdon TEXT, modifiedon TEXT, code TEXT, "
        "note TEXT);")
    con.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?) "
        "INSERT INTO t SELECT lower(hex(randomblob(4)))||'-'||lower(hex(randomblob(2)))||'-4'||"
        "substr(lower(hex(randomblob(2))),2)||'-a'||substr(lower(hex(randomblob(2))),2)||'-'||"
        "lower(hex(randomblob(6))), 'Name '||i, 'City '||(i%100), i*1.25, i%5000, i%2, "
        "printf('%04d-%02d-15T10:20:30Z', 2015+i%10, 1+i%12), '2026-01-01T00:00:00Z', 'C'||i, "
        "'some note text' FROM n", (rows,))
    con.commit()
    con.close()
    rc, _, err = harness.run_cli("source", "enable-change-tracking", "--db", path, "--table", "t")
    assert rc == 0, err


def peak_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Run:
    """`linkwatch run` on one profile with table t, in a folder of its own."""

    def __init__(self, root, name, source, append_only, sync_interval="1s"):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.port = harness.free_port()
        self.cfg = os.path.join(self.dir, "linkwatch.yaml")
        with open(self.cfg, "w") as f:
            f.write("state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\nprofiles:\n"
                    "  - name: p\n    source: {type: sqlite, path: %s}\n"
                    "    destination: {type: lake, path: lake}\n    sync_interval: %s\n"
                    "    snapshot_interval: 24h\n"
                    "    tables: [{name: t, append_only: %s}]\n"
                    % (self.port, source, sync_interval, "true" if append_only else "false"))
        self.state = os.path.join(self.dir, "state.db")
        self.agent = None

    def start(self):
        self.started = time.time()
        self.agent = harness.Agent(self.cfg).start()
        return self

    def query(self, sql):
        try:
            con = sqlite3.connect("file:%s?mode=ro" % self.state, uri=True, timeout=10)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        except sqlite3.Error:
            return []

    def initial_done(self):
        rows = self.query("SELECT initialsyncstate FROM synapselinkprofileentitystate")
        return rows and rows[0][0] == 4

    def cursor(self):
        rows = self.query("SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor")
        return rows[0][0] if rows else -1

    def stop(self):
        if self.agent:
            self.agent.stop()


def source_seq(con):
    return con.execute("SELECT seq FROM _linkwatch_clock").fetchone()[0]


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def bench_initial(root, source, rows):
    print("\n== initial sync, %d rows x 10 columns (2 cores)" % rows)
    t0 = time.time()
    with open(os.path.join(root, "export.csv"), "w") as out:
        subprocess.run(["sqlite3", "-csv", source, "select * from t"], stdout=out, check=True)
    peer = time.time() - t0
    print("  peer  sqlite3 -csv export            %6.2f s  %9.0f rows/s" % (peer, rows / peer))
    runs = {}
    for mode in ("in place", "append only"):
        r = Run(root, mode.replace(" ", "_"), source, mode == "append only").start()
        harness.wait_for(r.initial_done, timeout=600, interval=0.02, what="initial sync")
        took = time.time() - r.started
        rss = peak_rss_kb(r.agent.proc.pid)
        print("  linkwatch %-12s run -> Completed %6.2f s  %9.0f rows/s  %.2fx the peer  "
              "peak RSS %d MB" % (mode, took, rows / took, took / peer, rss // 1024))
        runs[mode] = r
    return runs


def bench_incremental(runs, source, seconds, burst):
    r = runs["in place"]
    print("\n== incremental, in place, 1,000 changes/s for %ds on the synced table" % seconds)
    con = sqlite3.connect(source, timeout=30)
    maxrow = con.execute("SELECT max(rowid) FROM t").fetchone()[0]
    commits = []  # (seq, commit time)
    seen = {}  # seq -> first time the cursor covered it
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            c = r.cursor()
            now = time.time()
            for seq, _ in commits:
                if seq <= c and seq not in seen:
                    seen[seq] = now
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    rng = random.Random(1)
    end = time.time() + seconds
    tick = time.time()
    n = 0
    while time.time() < end:
        with con:
            for _ in range(100):  # 100 changes every 100 ms
                op = rng.random()
                if op < 0.2:
                    con.execute("INSERT INTO t(id, name, createdon) VALUES (?, 'new', ?)",
                                (str(uuid.uuid4()), "%04d-03-01T00:00:00Z" % rng.randint(2015, 2024)))
                elif op < 0.9:
                    con.execute("UPDATE t SET revenue = revenue + 1 WHERE rowid = ?",
                                (rng.randint(1, maxrow),))
                else:
                    con.execute("DELETE FROM t WHERE rowid = ?", (rng.randint(1, maxrow),))
                n += 1
            seq = source_seq(con)
        commits.append((seq, time.time()))
        tick += 0.1
        time.sleep(max(0, tick - time.time()))
    rate = n / seconds
    harness.wait_for(lambda: all(s in seen for s, _ in commits), timeout=120, interval=0.05,
                     what="all changes in the lake")
    stop.set()
    lat = [seen[s] - t for s, t in commits]
    print("  %d changes (%.0f/s) in %d commits: source commit -> lake p50 %.0f ms  p99 %.0f ms  "
          "max %.0f ms   target p99 <= 2000 ms" % (n, rate, len(commits), pct(lat, 50) * 1000,
                                                   pct(lat, 99) * 1000, max(lat) * 1000))
    print("  peak RSS of the in-place agent: %d MB" % (peak_rss_kb(r.agent.proc.pid) // 1024))

    for mode, run in runs.items():
        # One row ("a handful of rows") and a bulk burst, each timed commit -> lake.
        with con:
            con.execute("UPDATE t SET name = 'single' WHERE rowid = 7")
            seq = source_seq(con)
        t0 = time.time()
        harness.wait_for(lambda: run.cursor() >= seq, timeout=60, interval=0.005, what="single")
        single = time.time() - t0
        with con:
            con.execute("UPDATE t SET revenue = revenue + 1 WHERE rowid IN "
                        "(SELECT rowid FROM t ORDER BY rowid LIMIT ?)", (burst,))
            seq = source_seq(con)
        t0 = time.time()
        harness.wait_for(lambda: run.cursor() >= seq, timeout=900, interval=0.01, what="burst")
        bulk = time.time() - t0
        print("  %-11s one row: %.2f s to the lake;  bulk %d changes in one commit: %.2f s "
              "(%.0f changes/s)" % (mode, single, burst, bulk, burst / bulk))
    con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--burst", type=int, default=200000)
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "linkwatch"))
    ap.add_argument("--keep", help="keep the work folder here")
    args = ap.parse_args()
    harness.BINARY = os.path.abspath(args.binary)
    root = args.keep or tempfile.mkdtemp(prefix="lw_lake_bench_")
    os.makedirs(root, exist_ok=True)
    source = os.path.join(root, "src.db")
    print("lake sync benchmark, %d cores, work folder %s" % (os.cpu_count(), root))
    t0 = time.time()
    build_source(source, args.rows)
    print("(source built in %.1f s, not timed)" % (time.time() - t0))
    runs = {}
    try:
        runs = bench_initial(root, source, args.rows)
        bench_incremental(runs, source, args.seconds, args.burst)
    finally:
        for r in runs.values():
            r.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
