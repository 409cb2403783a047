#!/usr/bin/python3
"""Issue 8, points 1 and 6: the lake changed behind linkwatch's back.

A partition deleted or cut by hand, an append-only file cut mid-record, a
file shorter than the committed marker found after a restart, the lake folder
replaced, model.json deleted or made corrupt: each is detected (a break in
the chain of changes, or a model.json error), shown while it lasts (the log
line, the error recorded in the state store's linkwatch_sync_error and
/api/v1/status), and repaired: the table is synced again, and the lake ends
equal to the source, compared value by value (Python's csv module, not
linkwatch's code), with `lake verify --path` and `--source` passing.
"""
import csv
import io
import json
import os
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import break_check  # noqa: E402
import harness  # noqa: E402
import lake_check  # noqa: E402

# Tables: t1 and t2 in place (createdon in 2020 / 2021), a1 append only (2022).
TABLES = {"t1": 2020, "t2": 2021, "a1": 2022}
ROWS = 200


def make_source(path):
    con = sqlite3.connect(path)
    for t, year in TABLES.items():
        con.execute("CREATE TABLE %s(id TEXT PRIMARY KEY, name TEXT, n INTEGER, createdon TEXT)"
                    % t)
        con.executemany("INSERT INTO %s VALUES (?, ?, ?, ?)" % t,
                        [("%s-%03d" % (t, i), "name, \"%d\"" % i, i,
                          "%d-%02d-01T00:00:00Z" % (year, 1 + i % 12)) for i in range(ROWS)])
    con.commit()
    con.close()


def change(path, sql, params=()):
    con = sqlite3.connect(path, timeout=30)
    with con:
        con.execute(sql, params)
    con.close()


def source_values(path, table):
    """{Id: (name, n)} of the source."""
    con = sqlite3.connect(path, timeout=30)
    try:
        return {r[0]: (r[1], str(r[2]))
                for r in con.execute("SELECT id, name, n FROM %s" % table)}
    finally:
        con.close()


def value_problems(lake, db, table):
    """Differences between the lake (as a reader rebuilds it) and the source, by value, plus
    versions (lake_check.compare) and records with a wrong number of fields (a row glued
    onto a cut-off one)."""
    problems = list(lake_check.compare(lake, db, table, "id"))
    e = lake_check.entity(lake, table)
    if e is None:
        return problems + ["%s: no entity in model.json" % table]
    width = len(e["attributes"])
    for p in e["partitions"]:
        path = lake_check.location_path(lake, p["location"])
        if not os.path.exists(path):
            problems.append("%s: partition %s listed in model.json is missing" % (table, path))
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for rec in csv.reader(io.StringIO(f.read())):
                if len(rec) != width:
                    problems.append("%s: a record of %d fields (%d attributes) in %s: %r"
                                    % (table, len(rec), width, path, rec[:3]))
    got = {i: (r["name"], r["n"]) for i, r in lake_check.current_rows(lake, table).items()}
    want = source_values(db, table)
    for i in sorted(set(want) | set(got)):
        if got.get(i) != want.get(i):
            problems.append("%s: Id %s: lake %r, source %r" % (table, i, got.get(i), want.get(i)))
            if len(problems) > 20:
                break
    return problems


class Watcher:
    """Polls the state store and /api/v1/status while a break lasts (a second or so before
    the resync clears it) and keeps every table error it saw."""

    def __init__(self, state, port):
        self.state, self.port = state, port
        self.seen = []  # (source, table, text)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                for entity, error in self.state.query(
                        "SELECT entity, error FROM linkwatch_sync_error"):
                    self.add(("state", entity, error))
                for entity, sync in self.state.query(
                        "SELECT entityname, syncstate FROM synapselinkprofileentitystate"):
                    if sync == 16:
                        self.add(("syncstate", entity, "RequestedInitialData"))
                status, body = harness.http_get("http://127.0.0.1:%d/api/v1/status" % self.port,
                                                timeout=2)
                if status == 200:
                    for t in json.loads(body).get("tables", []):
                        if t.get("lastError"):
                            self.add(("api", t.get("table"), t["lastError"]))
            except Exception:  # noqa: BLE001 - a busy store: poll again
                pass
            time.sleep(0.02)

    def add(self, item):
        if item not in self.seen:
            self.seen.append(item)

    def saw(self, source, table, text):
        return any(s == source and t == table and text in e for s, t, e in self.seen)

    def close(self):
        self.stop.set()
        self.thread.join(5)


class LakeBreaksTest(harness.TempDirTest):
    def start(self):
        self.agent = harness.Agent(self.cfg).start()
        self.defer(self.agent.kill)
        harness.wait_for(lambda: harness.http_get("http://127.0.0.1:%d/readyz" % self.port)[0]
                         == 200, timeout=60, what="agent ready")
        self.watcher = Watcher(self.state, self.port)
        self.defer(self.watcher.close)

    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "crm.db")
        self.lake = os.path.join(self.dir, "lake")
        make_source(self.src)
        args = ["source", "enable-change-tracking", "--db", self.src]
        for t in TABLES:
            args += ["--table", t]
        rc, _, err = harness.run_cli(*args)
        self.assertEqual(rc, 0, err)
        self.port = harness.free_port()
        self.cfg = self.write("linkwatch.yaml",
                              "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n%s"
                              "profiles:\n"
                              "  - name: crm\n"
                              "    source: {type: sqlite, path: crm.db}\n"
                              "    destination: {type: lake, path: lake}\n"
                              "    sync_interval: 200ms\n"
                              "    tables: [t1, t2, {name: a1, append_only: true}]\n"
                              % (self.port, break_check.watch_config()))
        self.state = harness.StateDb(os.path.join(self.dir, "state.db"))
        self.start()
        for t in TABLES:
            self.wait_equal(t, "initial sync of " + t)

    def partition(self, table):
        return os.path.join(self.lake, table, "%d.csv" % TABLES[table])

    def wait_equal(self, table, what, timeout=180):
        """Waits for the lake to equal the source by value (and the cursor to be caught up)."""
        last = []

        def equal():
            try:
                cursor = self.state.query(
                    "SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor "
                    "WHERE entity = ?", (table,))
                if not cursor or cursor[0][0] < lake_check.table_head(self.src, table):
                    last[:] = ["cursor %r behind" % (cursor,)]
                    return False
                last[:] = value_problems(self.lake, self.src, table)
            except (OSError, ValueError, KeyError, AssertionError) as e:
                last[:] = ["unreadable: %s" % e]
            return not last
        try:
            harness.wait_for(equal, timeout=timeout, interval=0.2, what=what)
        except AssertionError:
            self.fail("%s: the lake differs from the source:\n%s\n--- agent log tail:\n%s"
                      % (what, "\n".join(last[:20]), self.agent.output()[-3000:]))

    def wait_logged(self, text, what, timeout=120):
        harness.wait_for(lambda: text in self.agent.output(), timeout=timeout,
                         what="%s (log line %r)" % (what, text))

    def assert_break_seen(self, table, reason, text):
        """The break was logged, recorded in the state store, shown by the API, counted in
        the per-table error metric and paged by the shipped rules (SyncBroken)."""
        self.wait_logged("sync crm/%s: the sync broke (%s)" % (table, reason), reason)
        harness.wait_for(lambda: self.watcher.saw("state", table, text), timeout=60,
                         what="%s's error %r in linkwatch_sync_error" % (table, text))
        self.assertTrue(self.watcher.saw("syncstate", table, "RequestedInitialData")
                        or self.watcher.saw("state", table, text), self.watcher.seen)
        break_check.wait_counted(self.port, reason, table)
        break_check.wait_alerted(self.dir, "SyncBroken", table, reason)

    def verify(self):
        """`lake verify` calls the lake consistent, alone and against the source."""
        self.assertEqual(self.agent.stop(), 0)
        rc, out, err = harness.run_cli("lake", "verify", "--path", self.lake, timeout=300)
        self.assertEqual(rc, 0, "lake verify: exit %d\n%s%s" % (rc, out, err))
        rc, out, err = harness.run_cli("lake", "verify", "--path", self.lake, "--source",
                                       self.src, timeout=300)
        self.assertEqual(rc, 0, "lake verify --source: exit %d\n%s%s" % (rc, out, err))

    # --- point 1 --------------------------------------------------------------------------

    def test_deleted_and_truncated_partitions_are_breaks_repaired_by_a_resync(self):
        # rm lake/t1/2020.csv plus an update: no 2020.csv with only the changed row.
        os.remove(self.partition("t1"))
        change(self.src, "UPDATE t1 SET name = 'changed' WHERE id = 't1-007'")
        self.assert_break_seen("t1", "partition_missing", "2020.csv is missing")
        self.wait_equal("t1", "t1 resynced after its partition was deleted")

        # A truncated in-place partition (cut mid-record), then an update.
        with open(self.partition("t2"), "rb+") as f:
            f.truncate(os.path.getsize(self.partition("t2")) // 2 + 3)
        change(self.src, "UPDATE t2 SET n = -1 WHERE id = 't2-150'")
        self.assert_break_seen("t2", "partition_changed", "(truncated)")
        self.wait_equal("t2", "t2 resynced after its partition was truncated")

        # Append only, cut mid-record, then a new row: never glued onto the cut-off one.
        with open(self.partition("a1"), "rb+") as f:
            f.truncate(os.path.getsize(self.partition("a1")) - 9)
        change(self.src, "INSERT INTO a1 VALUES ('a1-new', 'new', 1, '2022-05-05T00:00:00Z')")
        self.assert_break_seen("a1", "partition_changed", "(truncated)")
        self.wait_equal("a1", "a1 resynced after its file was cut mid-record")

        # The counts tell the truth again.
        harness.wait_for(lambda: self.state.query(
            "SELECT crmrecordcount, lakerecordcount FROM synapselinkprofileentitystate "
            "WHERE entityname = 't1'")[0] == (ROWS, ROWS), timeout=60, what="t1 counts")
        for t in TABLES:
            self.assertEqual(value_problems(self.lake, self.src, t), [])
        self.verify()

    def test_a_file_shorter_than_the_committed_marker_is_found_after_a_restart(self):
        self.assertEqual(self.agent.stop(), 0)
        self.watcher.close()
        for t in ("t1", "a1"):
            with open(self.partition(t), "rb+") as f:
                f.truncate(os.path.getsize(self.partition(t)) - 40)
        change(self.src, "UPDATE a1 SET name = 'after restart' WHERE id = 'a1-003'")
        self.start()
        for t in ("t1", "a1"):
            self.assert_break_seen(t, "partition_changed", "shorter than the")
            self.wait_equal(t, "%s resynced after the restart" % t)
        self.assertEqual(value_problems(self.lake, self.src, "t2"), [])
        self.verify()

    def test_a_replaced_lake_folder_is_rebuilt(self):
        os.rename(self.lake, self.lake + ".old")
        os.mkdir(self.lake)
        change(self.src, "UPDATE t1 SET name = 'moved' WHERE id = 't1-001'")
        for t in TABLES:
            self.assert_break_seen(t, "lake_replaced", "was deleted or replaced")
        for t in TABLES:
            self.wait_equal(t, "%s rebuilt in the new lake folder" % t)
        self.assertTrue(os.path.exists(os.path.join(self.lake, "model.json")))
        self.verify()

    # --- point 6 --------------------------------------------------------------------------

    def test_model_json_deleted_is_recreated_and_corrupt_is_refused_until_fixed(self):
        model = os.path.join(self.lake, "model.json")

        # The first snapshot of each table follows its initial sync (and adds the entity
        # <table>_partitioned): wait for all of them, so `good` is the whole model.
        def whole_model():
            try:
                with open(model) as f:
                    names = {e["name"] for e in json.load(f)["entities"]}
            except (OSError, ValueError, KeyError):
                return False
            return all(t in names and t + "_partitioned" in names for t in TABLES)
        harness.wait_for(whole_model, timeout=60, what="every table's snapshot in model.json")
        with open(model) as f:
            good = f.read()
        os.remove(model)
        # No partition is added: it is recreated at the next round all the same.
        harness.wait_for(lambda: os.path.exists(model), timeout=60, what="model.json recreated")
        self.wait_logged("was deleted; linkwatch recreated it", "model.json recreated")
        break_check.wait_counted(self.port, "model_missing")
        with open(model) as f:
            self.assertEqual(json.load(f)["entities"], json.loads(good)["entities"])
        for t in TABLES:
            self.wait_equal(t, "%s readable after model.json was recreated" % t)

        # Corrupt: every round of the profile's tables fails with model_corrupt, and the
        # file is never overwritten, not even when a partition is added.
        with open(model, "w") as f:
            f.write("{ corrupt")
        change(self.src, "INSERT INTO t1 VALUES ('t1-2023', 'x', 1, '2023-01-01T00:00:00Z')")
        for t in TABLES:
            harness.wait_for(lambda: self.watcher.saw("state", t, "is corrupt: not valid JSON"),
                             timeout=60, what="%s's model_corrupt error" % t)
        harness.wait_for(lambda: self.watcher.saw("api", "t1", "is corrupt"), timeout=60,
                         what="the error in /api/v1/status")
        self.wait_logged("will not overwrite it: fix it or delete it", "model_corrupt logged")
        for t in TABLES:
            break_check.wait_counted(self.port, "model_corrupt", t)
        # The tables cannot be synced while it lasts (metadatastate Failure): SyncFailed
        # pages after its `for` (1m).
        break_check.wait_alerted(self.dir, "SyncFailed", "t1", timeout=240)
        with open(model) as f:
            self.assertEqual(f.read(), "{ corrupt")
        self.assertFalse(os.path.exists(os.path.join(self.lake, "t1", "2023.csv")))
        # Fixed (with the copy from before the new partition): synced on, and model.json
        # says what the lake holds.
        with open(model, "w") as f:
            f.write(good)
        for t in TABLES:
            self.wait_equal(t, "%s synced after model.json was fixed" % t)
        self.assertIn("2023", [p["name"] for p in lake_check.entity(self.lake, "t1")["partitions"]])
        self.verify()


if __name__ == "__main__":
    unittest.main()
