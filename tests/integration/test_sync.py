#!/usr/bin/python3
"""The sync core end to end: a change-tracked SQLite source, `linkwatch run`
with a profile, the lake checked by an independent reader against the
source, the state rows, the metrics, and bad input (a missing table, a table
without change tracking, an unwritable lake, a corrupt model.json)."""
import json
import os
import sqlite3
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lake_check  # noqa: E402


def make_source(path, accounts=2000, contacts=1000):
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT, revenue REAL, "
        "  employees INTEGER, active BOOLEAN, createdon TEXT);"
        "CREATE TABLE contact(contactid INTEGER PRIMARY KEY, fullname TEXT, email TEXT, "
        "  createdon DATETIME);"
        "CREATE TABLE lead(leadid TEXT PRIMARY KEY, subject TEXT);")
    con.executemany("INSERT INTO account VALUES (?, ?, ?, ?, ?, ?)",
                    [(str(uuid.uuid4()).upper() if i % 7 == 0 else str(uuid.uuid4()),
                      'Account "%d", Inc.' % i, i * 1.5, i % 300, i % 2,
                      "%04d-%02d-10T08:00:00Z" % (2019 + i % 6, 1 + i % 12))
                     for i in range(accounts)])
    con.executemany("INSERT INTO contact VALUES (?, ?, ?, ?)",
                    [(i, "Contact %d" % i, "c%d@example.com" % i, 1600000000 + i * 86400)
                     for i in range(1, contacts + 1)])
    con.execute("INSERT INTO lead VALUES ('l1', 'hello')")
    con.commit()
    con.close()


def change_source(path, seed):
    """Creates, updates and deletes in both tables."""
    con = sqlite3.connect(path, timeout=30)
    with con:
        con.executemany("INSERT INTO account VALUES (?, ?, 1, 1, 1, ?)",
                        [(str(uuid.uuid4()), "New %d-%d" % (seed, i), "2026-02-01T00:00:00Z")
                         for i in range(50)])
        con.execute("UPDATE account SET name = name || ' (edited)' WHERE rowid %% 20 = %d"
                    % (seed % 20))
        con.execute("DELETE FROM account WHERE rowid IN (SELECT rowid FROM account "
                    "ORDER BY rowid LIMIT 20 OFFSET %d)" % (100 + seed * 20))
        con.execute("UPDATE contact SET email = 'x' || email WHERE contactid %% 10 = %d"
                    % (seed % 10))
        con.execute("DELETE FROM contact WHERE contactid IN (SELECT contactid FROM contact "
                    "ORDER BY contactid LIMIT 5 OFFSET %d)" % (seed * 5))
        con.execute("INSERT INTO contact(fullname, email, createdon) VALUES ('Late', 'l@x', "
                    "'2026-03-03 10:00:00')")
    con.close()


class SyncTest(harness.TempDirTest):
    def start(self, profiles_yaml):
        self.port = harness.free_port()
        cfg = self.write("linkwatch.yaml",
                         "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                         "watch: {interval: 1s}\nprofiles:\n%s" % (self.port, profiles_yaml))
        self.state = harness.StateDb(os.path.join(self.dir, "state.db"))
        self.agent = harness.Agent(cfg).start()
        self.defer(self.agent.kill)
        harness.wait_for(lambda: harness.http_get("http://127.0.0.1:%d/readyz" % self.port)[0]
                         == 200, what="agent ready")
        return cfg

    def entity(self, table, *cols):
        rows = self.state.query(
            "SELECT %s FROM synapselinkprofileentitystate WHERE entityname = ?"
            % ", ".join(cols), (table,))
        return rows[0] if rows else None

    def error_of(self, table):
        rows = self.state.query("SELECT error FROM linkwatch_sync_error WHERE entity = ?",
                                (table,))
        return rows[0][0] if rows else None

    def caught_up(self, table, db):
        rows = self.state.query(
            "SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor WHERE entity = ?", (table,))
        return rows and rows[0][0] >= lake_check.table_head(db, table)

    def test_initial_and_incremental_sync_match_the_source(self):
        src = os.path.join(self.dir, "crm.db")
        make_source(src)
        rc, out, err = harness.run_cli("source", "enable-change-tracking", "--db", src,
                                       "--table", "account", "--table", "contact")
        self.assertEqual(rc, 0, err)
        # Enabling again is harmless.
        self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db", src,
                                         "--table", "account")[0], 0)
        self.start("  - name: crm\n"
                   "    source: {type: sqlite, path: crm.db}\n"
                   "    destination: {type: lake, path: lake}\n"
                   "    tables: [account, {name: contact, append_only: true}, missing, lead]\n")
        lake = os.path.join(self.dir, "lake")
        for t in ("account", "contact"):
            harness.wait_for(lambda: (self.entity(t, "initialsyncstate") or [0])[0] == 4,
                             what="initial sync of %s Completed" % t)
        self.assertEqual(self.entity("account", "crmrecordcount", "lakerecordcount"),
                         (2000, 2000))
        self.assertEqual(lake_check.compare(lake, src, "account", "accountid"), [])
        self.assertEqual(lake_check.compare(lake, src, "contact", "contactid"), [])

        for seed in range(3):
            change_source(src, seed)
        for t in ("account", "contact"):
            harness.wait_for(lambda: self.caught_up(t, src), what="%s caught up" % t)
        self.assertEqual(lake_check.compare(lake, src, "account", "accountid"), [])
        self.assertEqual(lake_check.compare(lake, src, "contact", "contactid"), [])
        # The counts follow (checked within a round or two of the change).
        harness.wait_for(lambda: self.entity("account", "crmrecordcount")
                         == self.entity("account", "lakerecordcount"), what="counts equal")
        syncstate, last, version = self.entity("account", "syncstate", "lastsynceddatatime",
                                               "lastsynceddataversion")
        self.assertEqual(syncstate, 2)
        self.assertTrue(last)
        self.assertEqual(int(version), lake_check.table_head(src, "account"))
        # Append-only: every change is a row, so the lake count exceeds the source's.
        crm, lake_count = self.entity("contact", "crmrecordcount", "lakerecordcount")
        self.assertGreater(lake_count, crm)

        # A table that is not there and one without change tracking: the state
        # rows say so, the error says how to fix it, the others sync on.
        self.assertEqual(self.entity("missing", "metadatastate", "syncstate"), (16, 1))
        self.assertIn('no table "missing"', self.error_of("missing"))
        self.assertIn("linkwatch source enable-change-tracking --db", self.error_of("lead"))
        # ... and `status`, the API and the status page show the error.
        harness.wait_for(lambda: any(t.get("table") == "missing" and t.get("lastError")
                                     for t in json.loads(harness.http_get(
                                         "http://127.0.0.1:%d/api/v1/status" % self.port)[1])
                                     ["tables"]), what="error in /api/v1/status")
        rc, out, err = harness.run_cli("status", "--config", os.path.join(self.dir,
                                                                          "linkwatch.yaml"))
        self.assertEqual(rc, 0, err)
        self.assertIn('crm/missing: last sync error', out)
        self.assertIn('no table "missing"', out)
        page = harness.http_get("http://127.0.0.1:%d/" % self.port)[1]
        self.assertIn("Last sync error", page)
        self.assertIn("enable-change-tracking", page)

        status, body = harness.http_get("http://127.0.0.1:%d/metrics" % self.port)
        self.assertEqual(status, 200)
        self.assertIn('linkwatch_sync_changes_total{entity="account",op="update",profile="crm"}',
                      body)
        self.assertIn('linkwatch_sync_lag_seconds_count{profile="crm"}', body)

        # The lake's metadata files.
        self.assertTrue(os.path.exists(os.path.join(
            lake, "Microsoft.Athena.TrickleFeedService", "account-EntityMetadata.json")))
        self.assertTrue(os.path.exists(os.path.join(lake, "OptionsetMetadata",
                                                    "OptionsetMetadata.csv")))
        self.assertEqual(self.agent.stop(), 0)

    def test_snapshots_are_taken_kept_and_recorded(self):
        src = os.path.join(self.dir, "crm.db")
        make_source(src, accounts=300, contacts=10)
        self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db", src,
                                         "--table", "account")[0], 0)
        self.start("  - name: crm\n"
                   "    source: {type: sqlite, path: crm.db}\n"
                   "    destination: {type: lake, path: lake}\n"
                   "    snapshot_interval: 1s\n"
                   "    snapshots_to_keep: 2\n"
                   "    tables: [account]\n")
        lake = os.path.join(self.dir, "lake")
        snapdir = os.path.join(lake, "account", "Snapshot")

        def stamps():
            if not os.path.isdir(snapdir):
                return set()
            return {f.rsplit("_", 1)[1] for f in os.listdir(snapdir) if f.endswith(".csv")}

        # Changes between snapshots make new ones; only the newest two stay.
        for i in range(4):
            change_source(src, i)
            before = stamps()
            harness.wait_for(lambda: stamps() - before, what="snapshot %d" % i)
        # (A snapshot is written first, then the oldest beyond the two is pruned.)
        harness.wait_for(lambda: len(stamps()) == 2, what="two snapshots kept")
        part = lake_check.entity(lake, "account_partitioned")
        self.assertIsNotNone(part)
        newest = max(stamps())
        for p in part["partitions"]:
            self.assertTrue(p["location"].startswith("file://"), p)
            path = lake_check.location_path(lake, p["location"])
            self.assertTrue(path.startswith(os.path.abspath(lake) + "/account/Snapshot/"), p)
            self.assertTrue(os.path.exists(path), p)
        self.assertTrue(any(p["location"].endswith(newest) for p in part["partitions"]))
        rows = self.state.query(
            "SELECT tablestate, lastsyncstate, recordcount, maxrecordversion, "
            "synapseworkspacename FROM synapselinkexternaltablestate WHERE entityname = 'account'")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0:2], (1, 1))
        self.assertGreater(rows[0][2], 0)
        self.assertGreater(rows[0][3], 0)
        self.assertEqual(rows[0][4], "crm")
        self.assertEqual(self.agent.stop(), 0)

    def test_a_table_without_createdon_is_synced_append_only(self):
        src = os.path.join(self.dir, "crm.db")
        con = sqlite3.connect(src)
        con.executescript("CREATE TABLE note(noteid INTEGER PRIMARY KEY, body TEXT);"
                          "INSERT INTO note(body) VALUES ('a'), ('b, with a comma');")
        con.close()
        self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db", src,
                                         "--table", "note")[0], 0)
        self.start("  - name: crm\n"
                   "    source: {type: sqlite, path: crm.db}\n"
                   "    destination: {type: lake, path: lake}\n"
                   "    tables: [note]\n")
        harness.wait_for(lambda: (self.entity("note", "initialsyncstate") or [0])[0] == 4,
                         what="note synced")
        lake = os.path.join(self.dir, "lake")
        annotations = json.dumps(lake_check.entity(lake, "note")["annotations"])
        self.assertIn("linkwatch:AppendOnly", annotations)
        self.assertEqual(self.state.query(
            "SELECT appendonlymode FROM synapselinkprofileentity WHERE entityname = 'note'"),
            [(1,)])
        con = sqlite3.connect(src)
        with con:
            con.execute("DELETE FROM note WHERE noteid = 1")
        con.close()
        harness.wait_for(lambda: self.caught_up("note", src), what="note caught up")
        self.assertEqual(lake_check.compare(lake, src, "note", "noteid"), [])
        self.assertEqual(self.agent.stop(), 0)

    def test_source_edge_cases(self):
        """NULL keys are skipped (and never fail the application's writes), a
        NOCASE key changing its case is a new key, createdon as Unix seconds in
        text, and a column added while the agent runs reaches the lake."""
        src = os.path.join(self.dir, "crm.db")
        con = sqlite3.connect(src)
        con.executescript(
            "CREATE TABLE e(k TEXT PRIMARY KEY COLLATE NOCASE, v TEXT, createdon TEXT);"
            "INSERT INTO e VALUES ('abc', 'one', '1700000000'), (NULL, 'null key', NULL),"
            "  ('def', 'two', '2024-05-01T00:00:00Z');")
        con.close()
        self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db", src,
                                         "--table", "e")[0], 0)
        self.start("  - name: crm\n"
                   "    source: {type: sqlite, path: crm.db}\n"
                   "    destination: {type: lake, path: lake}\n"
                   "    tables: [e]\n")
        lake = os.path.join(self.dir, "lake")
        harness.wait_for(lambda: (self.entity("e", "initialsyncstate") or [0])[0] == 4,
                         what="e synced")
        self.assertTrue(os.path.exists(os.path.join(lake, "e", "2023.csv")))  # 1700000000
        rows, _ = lake_check.read_table(lake, "e")
        self.assertEqual(sorted(r["Id"] for r in rows), ["abc", "def"])
        con = sqlite3.connect(src)
        with con:
            con.execute("INSERT INTO e VALUES (NULL, 'another null key', NULL)")  # must not fail
            con.execute("UPDATE e SET k = 'ABC' WHERE k = 'abc'")
            con.execute("ALTER TABLE e ADD COLUMN email TEXT")
            con.execute("UPDATE e SET email = 'a@example.com' WHERE k = 'ABC'")
        con.close()
        harness.wait_for(lambda: self.caught_up("e", src), what="e caught up")
        harness.wait_for(lambda: any(r.get("email") == "a@example.com"
                                     for r in lake_check.read_table(lake, "e")[0]),
                         what="the new column in the lake")
        self.assertEqual(lake_check.compare(lake, src, "e", "k"), [])
        rows, _ = lake_check.read_table(lake, "e")
        self.assertEqual(sorted(r["Id"] for r in rows), ["ABC", "def"])
        attrs = [a["name"] for a in lake_check.entity(lake, "e")["attributes"]]
        self.assertEqual(attrs[-3:], ["versionnumber", "IsDelete", "email"])
        con = sqlite3.connect(src)
        with con:
            con.execute("DELETE FROM e")
        con.close()
        harness.wait_for(lambda: self.caught_up("e", src), what="e caught up after delete")
        self.assertEqual(lake_check.read_table(lake, "e")[0], [])
        self.assertEqual(self.agent.stop(), 0)

    def test_a_column_added_with_a_default_reads_as_it_in_existing_records(self):
        """lake-format.md "Rows from a SQLite source": a column added with a
        DEFAULT reads as it in existing records, in place (partitions
        rewritten) and append only (every row written again, rebuilt by the
        highest versionnumber), added while the agent runs and while it is
        stopped."""
        src = os.path.join(self.dir, "crm.db")
        con = sqlite3.connect(src)
        con.executescript(
            "CREATE TABLE e(k TEXT PRIMARY KEY, v TEXT, createdon TEXT);"
            "CREATE TABLE n(k INTEGER PRIMARY KEY, v TEXT);")
        con.executemany("INSERT INTO e VALUES (?, ?, ?)",
                        [("k%03d" % i, "v%d" % i, "%d-03-01T00:00:00Z" % (2020 + i % 4))
                         for i in range(200)])
        con.executemany("INSERT INTO n VALUES (?, ?)", [(i, "v%d" % i) for i in range(200)])
        con.commit()
        con.close()
        self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db", src,
                                         "--table", "e", "--table", "n")[0], 0)
        profiles = ("  - name: crm\n"
                    "    source: {type: sqlite, path: crm.db}\n"
                    "    destination: {type: lake, path: lake}\n"
                    "    tables: [e, n]\n")
        self.start(profiles)
        lake = os.path.join(self.dir, "lake")
        for t in ("e", "n"):
            harness.wait_for(lambda: (self.entity(t, "initialsyncstate") or [0])[0] == 4,
                             what="%s synced" % t)

        def settled(column, want):
            """Every live record reads `want` in `column` (a dict by Id, or one value)."""
            for t in ("e", "n"):
                if not self.caught_up(t, src):
                    return False
                rows = lake_check.current_rows(lake, t)
                if len(rows) != 200 + (1 if isinstance(want, dict) else 0):
                    return False
                for i, r in rows.items():
                    expected = want.get(i, want["*"]) if isinstance(want, dict) else want
                    if r.get(column) != expected:
                        return False
            return True

        # Added while the agent runs; an update of one row at the same time.
        con = sqlite3.connect(src)
        with con:
            con.execute("ALTER TABLE e ADD COLUMN extra2 INTEGER DEFAULT 7")
            con.execute("ALTER TABLE n ADD COLUMN extra2 INTEGER DEFAULT 7")
            con.execute("UPDATE e SET v = 'changed' WHERE k = 'k001'")
            con.execute("UPDATE n SET v = 'changed' WHERE k = 1")
        con.close()
        harness.wait_for(lambda: settled("extra2", "7"), what="extra2 = 7 everywhere")
        for t, key in (("e", "k"), ("n", "k")):
            self.assertEqual(lake_check.compare(lake, src, t, key), [])
        self.assertEqual(lake_check.current_rows(lake, "e")["k001"]["v"], "changed")
        rows, _ = lake_check.read_table(lake, "n")
        # The initial rows, every row again, and the update unless it was still
        # waiting when every row was logged again (the log keeps one per key).
        self.assertIn(len(rows), (400, 401))
        self.assertEqual(self.agent.stop(), 0)

        # Added while it is stopped; a new row with NULL in it keeps NULL.
        con = sqlite3.connect(src)
        with con:
            con.execute("ALTER TABLE e ADD COLUMN extra3 TEXT DEFAULT 'x, y'")
            con.execute("ALTER TABLE n ADD COLUMN extra3 TEXT DEFAULT 'x, y'")
            con.execute("INSERT INTO e(k, v, createdon, extra3) VALUES "
                        "('new', 'n', '2021-01-01T00:00:00Z', NULL)")
            con.execute("INSERT INTO n(k, v, extra3) VALUES (1000, 'n', NULL)")
        con.close()
        self.start(profiles)
        harness.wait_for(lambda: settled("extra3", {"*": "x, y", "new": "", "1000": ""}),
                         what="extra3 = 'x, y' in existing records")
        for t, key in (("e", "k"), ("n", "k")):
            self.assertEqual(lake_check.compare(lake, src, t, key), [])
            self.assertTrue(all(r["extra2"] == "7" for r in lake_check.current_rows(lake, t)
                                .values()))
        self.assertEqual(self.agent.stop(), 0)

    def test_lake_relocate(self):
        """`lake relocate --path DIR` rewrites a moved lake's locations, and
        refuses while an agent holds the lake or when there is no model.json."""
        src = os.path.join(self.dir, "crm.db")
        make_source(src, accounts=50, contacts=10)
        self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db", src,
                                         "--table", "account")[0], 0)
        self.start("  - name: crm\n"
                   "    source: {type: sqlite, path: crm.db}\n"
                   "    destination: {type: lake, path: my lake}\n"
                   "    tables: [account]\n")
        lake = os.path.join(self.dir, "my lake")
        harness.wait_for(lambda: (self.entity("account", "initialsyncstate") or [0])[0] == 4,
                         what="account synced")
        for p in lake_check.entity(lake, "account")["partitions"]:
            self.assertTrue(p["location"].startswith(
                "file://" + os.path.abspath(self.dir) + "/my%20lake/account/"), p)
        rc, out, err = harness.run_cli("lake", "relocate", "--path", lake)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("in use by a running linkwatch", err)
        self.assertEqual(self.agent.stop(), 0)

        rc, out, _ = harness.run_cli("lake", "relocate", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--path", out)
        rc, _, err = harness.run_cli("lake", "relocate", "--path", os.path.join(self.dir, "nope"))
        self.assertEqual(rc, 1)
        self.assertIn("model.json does not exist", err)

        moved = os.path.join(self.dir, "moved lake")
        os.rename(lake, moved)
        rc, out, err = harness.run_cli("lake", "relocate", "--path", moved)
        self.assertEqual(rc, 0, err)
        self.assertIn("location(s) rewritten", out)
        for p in lake_check.entity(moved, "account")["partitions"]:
            path = lake_check.location_path(moved, p["location"])
            self.assertTrue(path.startswith(os.path.abspath(moved) + "/account/"), p)
            self.assertTrue(os.path.exists(path), p)
        self.assertEqual(lake_check.compare(moved, src, "account", "accountid"), [])
        rc, out, _ = harness.run_cli("lake", "relocate", "--path", moved)
        self.assertEqual(rc, 0)
        self.assertIn("nothing to change", out)

    def test_a_broken_lake_stops_only_its_profile(self):
        for name in ("good.db", "bad.db", "corrupt.db"):
            make_source(os.path.join(self.dir, name), accounts=50, contacts=5)
            self.assertEqual(harness.run_cli("source", "enable-change-tracking", "--db",
                                             os.path.join(self.dir, name), "--table",
                                             "account")[0], 0)
        # A file where the lake folder should be, and a corrupt model.json.
        self.write("notafolder", "x")
        os.makedirs(os.path.join(self.dir, "corrupt"))
        self.write("corrupt/model.json", "{ this is not json")
        self.start("  - name: good\n"
                   "    source: {type: sqlite, path: good.db}\n"
                   "    destination: {type: lake, path: good}\n"
                   "    tables: [account]\n"
                   "  - name: bad\n"
                   "    source: {type: sqlite, path: bad.db}\n"
                   "    destination: {type: lake, path: notafolder/lake}\n"
                   "    tables: [account]\n"
                   "  - name: corrupt\n"
                   "    source: {type: sqlite, path: corrupt.db}\n"
                   "    destination: {type: lake, path: corrupt}\n"
                   "    tables: [account]\n")

        def state_of(profile):
            return self.state.query(
                "SELECT es.initialsyncstate, es.metadatastate, e.error FROM "
                "synapselinkprofileentitystate es JOIN synapselinkprofile p ON "
                "es.profile = p.synapselinkprofileid LEFT JOIN linkwatch_sync_error e ON "
                "e.profile = p.name AND e.entity = es.entityname WHERE p.name = ?",
                (profile,))

        harness.wait_for(lambda: state_of("good") and state_of("good")[0][0] == 4,
                         what="good profile synced")
        harness.wait_for(lambda: state_of("bad") and state_of("bad")[0][2],
                         what="bad profile's error recorded")
        harness.wait_for(lambda: state_of("corrupt") and state_of("corrupt")[0][2],
                         what="corrupt profile's error recorded")
        self.assertEqual(state_of("bad")[0][1], 16)
        self.assertIn("notafolder/lake", state_of("bad")[0][2])
        self.assertIn("is corrupt: not valid JSON; linkwatch will not overwrite it",
                      state_of("corrupt")[0][2])
        with open(os.path.join(self.dir, "corrupt", "model.json")) as f:
            self.assertEqual(f.read(), "{ this is not json")  # not overwritten
        self.assertEqual(self.agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
