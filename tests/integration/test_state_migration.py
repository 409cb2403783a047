#!/usr/bin/python3
"""A state store written by the release before opaque cursors (schema
version 4, tests/fixtures/state_v4/, made by its make_fixture.py) is opened
by this release, migrated in place and synced on from where it stood: the
tables continue from their stored cursors (no initial sync again), and
afterwards the lake equals the source (lake_check and `lake verify`)."""
import os
import shutil
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lake_check  # noqa: E402

FIXTURE = os.path.join(harness.ROOT, "tests", "fixtures", "state_v4")


def restore_db(sql_file, db, d):
    with open(sql_file) as f:
        sql = f.read().replace("@DIR@", d)
    con = sqlite3.connect(db)
    con.executescript(sql)
    con.close()


def restore_lake(d):
    src_root = os.path.join(FIXTURE, "lake")
    for root, _, files in os.walk(src_root):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), src_root)
            out = os.path.join(d, "lake", rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            with open(out, "wb") as f:
                f.write(data.replace(b"@DIR@", d.encode()))


class StateMigrationTest(harness.TempDirTest):
    def test_a_version_4_store_is_migrated_and_synced_on_from_its_cursor(self):
        d = self.dir
        src = os.path.join(d, "crm.db")
        state_db = os.path.join(d, "state.db")
        restore_db(os.path.join(FIXTURE, "source.sql"), src, d)
        restore_db(os.path.join(FIXTURE, "state.sql"), state_db, d)
        restore_lake(d)
        state = harness.StateDb(state_db)
        self.assertEqual(state.query("PRAGMA user_version")[0][0], 4)
        before = dict(state.query("SELECT entity, cursor FROM linkwatch_sync_cursor"))
        self.assertEqual(before, {"account": 8, "contact": 10})
        initial = dict(state.query(
            "SELECT entityname, initialsyncdatacompletedtime FROM synapselinkprofileentitystate"))
        contact_rows = state.query("SELECT lakerecordcount FROM synapselinkprofileentitystate "
                                   "WHERE entityname = 'contact'")[0][0]

        # Changes made while the old release was stopped: exactly these are
        # synced next (contact is append only, so each is one more lake row).
        con = sqlite3.connect(src)
        with con:
            con.execute("UPDATE account SET revenue = revenue + 1 WHERE accountid = 'a020'")
            con.execute("INSERT INTO account VALUES ('a200', 'Later', 2, '2025-06-01T00:00:00Z')")
            con.execute("DELETE FROM account WHERE accountid = 'a021'")
            con.execute("UPDATE contact SET fullname = 'Again' WHERE contactid IN (5, 6)")
            con.execute("INSERT INTO contact VALUES (99, 'New', '2025-01-01T00:00:00Z')")
        con.close()

        port = harness.free_port()
        cfg = self.write("linkwatch.yaml",
                         "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                         "watch: {interval: 1s}\nprofiles:\n"
                         "  - name: crm\n"
                         "    source: {type: sqlite, path: crm.db}\n"
                         "    destination: {type: lake, path: lake}\n"
                         "    tables: [account, {name: contact, append_only: true}]\n" % port)
        agent = harness.Agent(cfg).start()
        self.defer(agent.kill)

        def caught_up():
            for t in ("account", "contact"):
                rows = state.query("SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor "
                                   "WHERE entity = ?", (t,))
                if not rows or rows[0][0] < lake_check.table_head(src, t):
                    return False
            return True

        harness.wait_for(caught_up, timeout=120, what="both tables caught up")
        harness.wait_for(lambda: state.query(
            "SELECT lakerecordcount FROM synapselinkprofileentitystate "
            "WHERE entityname = 'contact'")[0][0] == contact_rows + 3,
            timeout=60, what="contact's three new change rows counted")
        self.assertEqual(agent.stop(), 0)
        log = agent.output()

        self.assertEqual(state.query("PRAGMA user_version")[0][0], 8)
        self.assertEqual(state.query("SELECT DISTINCT typeof(cursor) FROM linkwatch_sync_cursor"),
                         [("text",)])
        # Continued from the stored cursors: no initial sync, no break, the
        # initial sync's completion time is the fixture's.
        self.assertNotIn("initial sync started", log)
        self.assertNotIn("the sync broke", log)
        self.assertEqual(state.query("SELECT count(*) FROM linkwatch_sync_break")[0][0], 0)
        self.assertEqual(dict(state.query(
            "SELECT entityname, initialsyncdatacompletedtime FROM synapselinkprofileentitystate")),
            initial)
        self.assertEqual(state.query(
            "SELECT lastsynceddataversion FROM synapselinkprofileentitystate "
            "WHERE entityname = 'account'")[0][0], str(lake_check.table_head(src, "account")))
        # The lake equals the source, by the independent reader and by
        # `lake verify --source`.
        lake = os.path.join(d, "lake")
        self.assertEqual(lake_check.compare(lake, src, "account", "accountid"), [])
        self.assertEqual(lake_check.compare(lake, src, "contact", "contactid"), [])
        rc, out, err = harness.run_cli("lake", "verify", "--path", lake, "--source", src)
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main()
