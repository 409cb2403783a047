#!/usr/bin/python3
"""A break in the chain of changes seen by an operator (docs/sync.md
"Breaks"), through the running binary: the table is resynced, the break is in
`status`, `/api/v1/status`, the status page and the per-table error metric,
and the shipped default rules fire SyncBroken to a `file` receiver, although
the repair commits faster than the watcher polls. The lake ends equal to the
source by value.

The break is a lake partition deleted by hand (the lake's and the source's
other breaks have integration tests of their own: test_sync_lake_breaks.py,
test_sync_source_breaks.py); this test follows one through everything an
operator looks at."""
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import break_check  # noqa: E402
import harness  # noqa: E402
import lake_check  # noqa: E402


def make_source(path, rows=200):
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, createdon TEXT);")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)",
                    [(i, "row %d" % i, "%04d-03-01T00:00:00Z" % (2020 + i % 3))
                     for i in range(1, rows + 1)])
    con.commit()
    con.close()


def source_values(path):
    con = sqlite3.connect(path, timeout=30)
    try:
        return {str(i): v for i, v in con.execute("SELECT id, v FROM t")}
    finally:
        con.close()


class SyncBreakTest(harness.TempDirTest):
    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "crm.db")
        make_source(self.src)
        rc, out, err = harness.run_cli("source", "enable-change-tracking", "--db", self.src,
                                       "--table", "t")
        self.assertEqual(rc, 0, out + err)
        self.port = harness.free_port()
        self.config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
%sprofiles:
  - name: crm
    source: {type: sqlite, path: crm.db}
    destination: {type: lake, path: lake}
    sync_interval: 200ms
    tables: [t]
""" % (self.port, break_check.watch_config()))
        self.state = harness.StateDb(os.path.join(self.dir, "state.db"))
        self.agent = harness.Agent(self.config).start()
        self.defer(self.agent.kill)
        self.base = "http://127.0.0.1:%d" % self.port
        harness.wait_for(lambda: harness.http_get(self.base + "/readyz")[0] == 200,
                         timeout=60, what="agent ready")

    def entity_state(self):
        rows = self.state.query("SELECT syncstate, initialsyncstate FROM "
                                "synapselinkprofileentitystate WHERE entityname = 't'")
        return tuple(rows[0]) if rows else None

    def api_table(self):
        code, body = harness.http_get(self.base + "/api/v1/status")
        if code != 200:
            return None
        for t in json.loads(body)["tables"]:
            if t["profile"] == "crm" and t["table"] == "t":
                return t
        return None

    def test_a_break_is_repaired_shown_counted_and_alerted(self):
        harness.wait_for(lambda: self.entity_state() == (2, 4), timeout=120,
                         what="initial sync completed")
        self.assertEqual(self.state.query("SELECT count(*) FROM linkwatch_sync_break")[0][0], 0)

        # A change, then a break found by the next round: the change must
        # reach the lake through the repair resync.
        con = sqlite3.connect(self.src, timeout=30)
        with con:
            con.execute("UPDATE t SET v = 'changed during the break' WHERE id = 7")
            con.execute("DELETE FROM t WHERE id = 8")
        con.close()
        os.remove(os.path.join(self.dir, "lake", "t", "2020.csv"))

        def repaired():
            rows = self.state.query("SELECT reason, at, repaired_at FROM linkwatch_sync_break "
                                    "WHERE profile = 'crm' AND entity = 't'")
            return rows[0] if rows and rows[0][2] is not None else None
        reason, at, repaired_at = harness.wait_for(repaired, timeout=120,
                                                   what="the break repaired by a resync")
        self.assertEqual(reason, "partition_missing")
        self.assertGreaterEqual(repaired_at, at)
        self.assertEqual(self.entity_state(), (2, 4), "InProgress/Completed after the repair")
        self.assertEqual(self.state.query("SELECT count(*) FROM linkwatch_sync_error")[0][0], 0,
                         "the error is cleared by the repair")
        self.assertIn("the sync broke (partition_missing)", self.agent.output())

        # The API: the last break with its repair time.
        table = harness.wait_for(
            lambda: (lambda t: t if t and t.get("lastBreak") and
                     t["lastBreak"].get("repairedAt") else None)(self.api_table()),
            timeout=60, what="lastBreak in /api/v1/status")
        self.assertEqual(table["lastBreak"]["reason"], "partition_missing")
        self.assertIn("2020.csv", table["lastBreak"]["message"])
        self.assertIsNone(table["errorReason"])
        self.assertEqual(table["syncStatus"], "InProgress")

        # The metric: one break counted under its reason.
        self.assertEqual(break_check.wait_counted(self.port, "partition_missing", "t"), 1.0)

        # The shipped default rules page although the repair was faster than
        # the watcher's poll.
        fired = break_check.wait_alerted(self.dir, "SyncBroken", "t")
        self.assertEqual(fired[0]["labels"]["profile"], "crm")
        self.assertEqual(fired[0]["labels"]["entity"], "t")
        self.assertIn("partition_missing", fired[0]["annotations"]["summary"])
        self.assertIn("syncs the whole table again", fired[0]["annotations"]["description"])

        # `status`, text and JSON.
        rc, out, err = harness.run_cli("status", "--config", self.config)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"crm/t: last break \(partition_missing, [^)]*\): .*repaired by a "
                              r"resync at ")
        rc, out, err = harness.run_cli("status", "--config", self.config, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)[0]["lastBreak"]["reason"], "partition_missing")

        # The status page.
        code, page = harness.http_get(self.base + "/")
        self.assertEqual(code, 200)
        self.assertIn("repaired by a resync at", page)

        # The lake holds what the source holds, by value.
        want = source_values(self.src)
        got = harness.wait_for(
            lambda: (lambda rows: rows if {i: r["v"] for i, r in rows.items()} == want
                     else None)(lake_check.current_rows(os.path.join(self.dir, "lake"), "t")),
            timeout=60, what="the lake equal to the source by value")
        self.assertEqual(got["7"]["v"], "changed during the break")
        self.assertNotIn("8", got)
        self.assertEqual(self.agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
