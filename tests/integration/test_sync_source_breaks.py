#!/usr/bin/python3
"""Breaks on the source's side (issue 8, points 2-5 and 11c), through the
running binary: a source restored from a backup (at once, and with many new
changes made while the agent was down), a source file replaced or deleted
while running, change tracking dropped and restored (with a delete in the
gap), a table dropped and re-created, a table rebuilt with another key. Each
ends with the lake equal to the source, compared by value (`lake verify
--source`) and by Id and version (lake_check), and shows the break while it
lasted (the agent's log line, the recorded error). Sources stay in SQLite's
default rollback-journal mode, which linkwatch must leave alone."""
import os
import re
import shutil
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import break_check  # noqa: E402
import harness  # noqa: E402
import lake_check  # noqa: E402

TIMEOUT = 90  # a busy machine: generous, polled


def make_source(path, rows=200, first=0):
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
        "  revenue REAL, createdon TEXT);")
    con.executemany("INSERT INTO account VALUES (?, ?, ?, ?)",
                    [("a%04d" % i, "Account %d" % i, i * 1.5,
                      "%04d-%02d-10T08:00:00Z" % (2020 + i % 4, 1 + i % 12))
                     for i in range(first, first + rows)])
    con.commit()
    con.close()


def change(path, seed, n=20):
    """Inserts, updates and deletes rows of account."""
    con = sqlite3.connect(path, timeout=30)
    with con:
        con.executemany("INSERT INTO account VALUES (?, ?, 1, '2026-02-01T00:00:00Z')",
                        [("n%d-%d" % (seed, i), "New %d-%d" % (seed, i)) for i in range(n)])
        con.execute("UPDATE account SET revenue = revenue + 1 WHERE rowid %% 10 = %d"
                    % (seed % 10))
        con.execute("DELETE FROM account WHERE rowid IN (SELECT rowid FROM account "
                    "ORDER BY rowid LIMIT 3 OFFSET %d)" % (seed * 3))
    con.close()


def journal_mode(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        con.close()


def backup(src, to):
    """A consistent copy of `src` made through SQLite."""
    a, b = sqlite3.connect(src, timeout=30), sqlite3.connect(to)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


class SourceBreaksTest(harness.TempDirTest):
    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.dir, "crm.db")
        self.lake = os.path.join(self.dir, "lake")
        self.agent = None

    def enable(self, path=None, *extra):
        rc, out, err = harness.run_cli("source", "enable-change-tracking", "--db",
                                       path or self.src, "--table", "account", *extra)
        self.assertEqual(rc, 0, err)
        return out

    def start(self):
        if not hasattr(self, "cfg"):
            port = self.port = harness.free_port()
            self.cfg = self.write("linkwatch.yaml",
                                  "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n%s"
                                  "profiles:\n"
                                  "  - name: crm\n"
                                  "    source: {type: sqlite, path: crm.db}\n"
                                  "    destination: {type: lake, path: lake}\n"
                                  "    sync_interval: 200ms\n"
                                  "    tables: [account]\n"
                                  % (port, break_check.watch_config()))
            self.state = harness.StateDb(os.path.join(self.dir, "state.db"))
        self.agent = harness.Agent(self.cfg).start()
        self.defer(self.agent.kill)
        harness.wait_for(lambda: harness.http_get("http://127.0.0.1:%d/readyz" % self.port)[0]
                         == 200, timeout=TIMEOUT, what="agent ready")
        return self.agent

    def stop(self):
        self.assertEqual(self.agent.stop(), 0)

    def entity(self, *cols):
        rows = self.state.query(
            "SELECT %s FROM synapselinkprofileentitystate WHERE entityname = 'account'"
            % ", ".join(cols))
        return rows[0] if rows else None

    def error(self):
        rows = self.state.query(
            "SELECT error, attempts FROM linkwatch_sync_error WHERE entity = 'account'")
        return rows[0] if rows else (None, 0)

    def breaks(self, reason):
        """How many times the agent's log says the sync broke for `reason`."""
        return len(re.findall(r"sync crm/account: the sync broke \(%s\)" % re.escape(reason),
                              self.agent.output()))

    def wait_break(self, *reasons, after=0):
        """A break in the log, counted in the per-table error metric and paged (SyncBroken)."""
        harness.wait_for(lambda: sum(self.breaks(r) for r in reasons) > after, timeout=TIMEOUT,
                         what="a break (%s) in the log" % "|".join(reasons))
        harness.wait_for(lambda: any(break_check.counted(self.port, r, "account")
                                     for r in reasons), timeout=TIMEOUT,
                         what="the break counted in linkwatch_sync_table_errors_total")
        break_check.wait_alerted(self.dir, "SyncBroken", "account", timeout=TIMEOUT)

    def lake_matches(self, key="accountid"):
        try:
            return lake_check.compare(self.lake, self.src, "account", key) == []
        except (OSError, KeyError, ValueError, sqlite3.Error):
            return False  # a partition being rewritten

    def verify(self):
        return harness.run_cli("lake", "verify", "--path", self.lake, "--source", self.src)

    def wait_equal(self, key="accountid"):
        """The lake equals the source by Id and version, then by value."""
        harness.wait_for(lambda: self.lake_matches(key), timeout=TIMEOUT,
                         what="lake equal to the source")
        # Nothing is pending (no change the agent has yet to apply) ...
        harness.wait_for(lambda: (self.entity("syncstate") or [0])[0] == 2
                         and self.error()[0] is None, timeout=TIMEOUT,
                         what="syncstate InProgress, no error")
        rc, out, err = self.verify()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(lake_check.compare(self.lake, self.src, "account", key), [])

    def synced(self):
        self.start()
        harness.wait_for(lambda: (self.entity("initialsyncstate") or [0])[0] == 4,
                         timeout=TIMEOUT, what="initial sync Completed")
        self.wait_equal()

    # Point 2 -------------------------------------------------------------

    def test_a_restore_is_detected_at_once(self):
        make_source(self.src)
        self.enable()
        self.synced()
        old = os.path.join(self.dir, "backup.db")
        backup(self.src, old)
        change(self.src, 1)
        change(self.src, 2)
        self.wait_equal()
        # Restored in place (through SQLite, same file): the running agent's
        # next round sees the change clock behind its cursor.
        backup(old, self.src)
        self.wait_break("source_restored")
        self.wait_equal()
        self.assertEqual(self.entity("initialsyncstate")[0], 4)
        # A rollback-journal source stays one (point 11c).
        self.assertEqual(journal_mode(self.src), "delete")

    def test_a_restore_followed_by_many_changes_while_down_is_detected(self):
        make_source(self.src)
        self.enable()
        self.synced()
        old = os.path.join(self.dir, "backup.db")
        backup(self.src, old)
        for seed in range(1, 3):
            change(self.src, seed)
        self.wait_equal()
        self.stop()
        shutil.copy(old, self.src + ".new")
        os.replace(self.src + ".new", self.src)
        # More changes than were lost: the clock is past the cursor again.
        for seed in range(5, 12):
            change(self.src, seed)
        con = sqlite3.connect(self.src)
        cursor = self.state.query(
            "SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor")[0][0]
        self.assertGreater(con.execute("SELECT seq FROM _linkwatch_clock").fetchone()[0], cursor)
        con.close()
        self.start()
        self.wait_break("source_restored")
        self.wait_equal()

    # Point 3 -------------------------------------------------------------

    def test_a_replaced_or_deleted_source_file(self):
        make_source(self.src)
        self.enable()
        self.synced()
        other = os.path.join(self.dir, "other.db")
        make_source(other, rows=50, first=5000)
        self.enable(other)
        os.replace(other, self.src)
        self.wait_break("source_replaced")
        self.wait_equal()
        self.assertNotIn("a0001", lake_check.current_rows(self.lake, "account"))

        # Deleted (moved away): every round fails, with no fresh sync time.
        away = os.path.join(self.dir, "away.db")
        os.rename(self.src, away)
        harness.wait_for(lambda: "is gone" in (self.error()[0] or ""), timeout=TIMEOUT,
                         what="the missing source recorded")
        last = self.entity("lastsynceddatatime")
        attempts = self.error()[1]
        harness.wait_for(lambda: self.error()[1] >= attempts + 2, timeout=TIMEOUT,
                         what="two more failed attempts")
        self.assertEqual(self.entity("lastsynceddatatime"), last)
        self.assertIn("is gone", self.error()[0])
        # Counted, and paged by the shipped rules while it lasts (the table cannot be
        # synced: SyncFailed after its `for`).
        break_check.wait_counted(self.port, "source_missing", "account")
        break_check.wait_alerted(self.dir, "SyncFailed", "account", timeout=TIMEOUT + 120)
        # Back, changed meanwhile: synced again from the file.
        change(away, 3)
        before = self.breaks("source_replaced")
        os.rename(away, self.src)
        self.wait_break("source_replaced", after=before)
        self.wait_equal()

    def test_a_replaced_wal_source_waits_for_the_old_wal_to_go(self):
        make_source(self.src)
        self.enable(self.src, "--journal-mode", "wal")
        self.synced()
        # The agent's connection keeps the WAL file at the path.
        harness.wait_for(lambda: os.path.exists(self.src + "-wal"), timeout=TIMEOUT,
                         what="crm.db-wal")
        other = os.path.join(self.dir, "other.db")
        make_source(other, rows=40, first=7000)
        self.enable(other)
        os.replace(other, self.src)
        # Reading the new file now would read the old WAL as its pages.
        harness.wait_for(lambda: "is still the old file's" in (self.error()[0] or ""),
                         timeout=TIMEOUT, what="the refusal recorded")
        self.assertTrue(lake_check.current_rows(self.lake, "account"))
        self.assertIn("a0001", lake_check.current_rows(self.lake, "account"))
        before = self.breaks("source_replaced")
        os.remove(self.src + "-wal")
        os.remove(self.src + "-shm")
        self.wait_break("source_replaced", after=before)
        self.wait_equal()
        self.assertNotIn("a0001", lake_check.current_rows(self.lake, "account"))

    # Point 4 -------------------------------------------------------------

    def drop_triggers(self):
        con = sqlite3.connect(self.src)
        con.executescript("DROP TRIGGER _linkwatch_account_insert;"
                          "DROP TRIGGER _linkwatch_account_update;"
                          "DROP TRIGGER _linkwatch_account_delete;")
        con.close()

    def test_triggers_dropped_and_restored_while_down_leave_no_ghost_rows(self):
        make_source(self.src)
        self.enable()
        self.synced()
        self.stop()
        self.drop_triggers()
        con = sqlite3.connect(self.src)
        with con:
            con.execute("DELETE FROM account WHERE accountid = 'a0007'")
            con.execute("UPDATE account SET name = 'changed in the gap' "
                        "WHERE accountid = 'a0008'")
        con.close()
        # Restored with the command the agent's own message suggests.
        self.assertIn("triggers installed", self.enable())
        # The lake before the repair: `lake verify --source` sees the ghost
        # row and the stale value.
        rc, out, err = self.verify()
        self.assertEqual(rc, 1, out + err)
        self.assertIn("a0007", out)
        self.assertIn("a0008", out)
        self.start()
        self.wait_break("tracking_gap")
        self.wait_equal()
        rows = lake_check.current_rows(self.lake, "account")
        self.assertNotIn("a0007", rows)

    def test_triggers_dropped_while_running_then_restored(self):
        make_source(self.src)
        self.enable()
        self.synced()
        self.drop_triggers()
        # The table cannot be synced meanwhile, and says how to fix it.
        self.wait_break("tracking_gap")
        harness.wait_for(lambda: "has no change tracking" in (self.error()[0] or ""),
                         timeout=TIMEOUT, what="the no-tracking error")
        con = sqlite3.connect(self.src)
        with con:
            con.execute("DELETE FROM account WHERE accountid = 'a0009'")
        con.close()
        self.enable()
        self.wait_equal()
        self.assertNotIn("a0009", lake_check.current_rows(self.lake, "account"))

    def test_a_table_dropped_and_created_again(self):
        make_source(self.src)
        self.enable()
        self.synced()
        con = sqlite3.connect(self.src)
        con.executescript("DROP TABLE account;")
        con.close()
        make_source(self.src, rows=30, first=9000)
        self.enable()
        self.wait_break("table_recreated", "tracking_gap")
        self.wait_equal()
        self.assertNotIn("a0001", lake_check.current_rows(self.lake, "account"))

    # Point 5 -------------------------------------------------------------

    def test_a_changed_primary_key(self):
        make_source(self.src)
        self.enable()
        self.synced()
        self.stop()
        con = sqlite3.connect(self.src)
        con.executescript(
            "CREATE TABLE account2(accountid TEXT NOT NULL, name TEXT PRIMARY KEY, "
            "  revenue REAL, createdon TEXT);"
            "INSERT INTO account2 SELECT * FROM account;"
            "DROP TABLE account;"
            "ALTER TABLE account2 RENAME TO account;")
        con.close()
        self.enable()
        con = sqlite3.connect(self.src)
        self.assertEqual(con.execute("SELECT key FROM _linkwatch_tracked WHERE tbl = 'account'")
                         .fetchone()[0], "name")
        con.close()
        self.start()
        self.wait_break("key_changed")
        self.wait_equal(key="name")
        # Each record once, under its new Id.
        rows = lake_check.current_rows(self.lake, "account")
        self.assertIn("Account 1", rows)
        self.assertNotIn("a0001", rows)
        self.assertEqual(len(rows), 200)

    # Point 11c -----------------------------------------------------------

    def test_the_journal_mode_changes_only_when_asked(self):
        make_source(self.src)
        self.enable()
        self.assertEqual(journal_mode(self.src), "delete")
        out = self.enable(self.src, "--journal-mode", "wal")
        self.assertIn("journal mode: wal (was delete)", out)
        self.assertEqual(journal_mode(self.src), "wal")


if __name__ == "__main__":
    unittest.main()
