#!/usr/bin/python3
"""Lifecycle commands against a running agent: link, tables add|remove,
unlink (--delete-data --confirm), relink (--clear), status and check-config
notes, and `lake verify` (with --source) on the result."""
import json
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lake_check  # noqa: E402


def make_db(path, tables):
    con = sqlite3.connect(path)
    for t in tables:
        con.execute("CREATE TABLE %s(%sid INTEGER PRIMARY KEY, name TEXT, createdon TEXT)" % (t, t))
        con.executemany("INSERT INTO %s VALUES (?, ?, ?)" % t,
                        [(i, "%s %d" % (t, i), "2025-0%d-01T00:00:00Z" % (1 + i % 9))
                         for i in range(1, 201)])
    con.commit()
    con.close()
    args = ["source", "enable-change-tracking", "--db", path]
    for t in tables:
        args += ["--table", t]
    rc, _, err = harness.run_cli(*args)
    assert rc == 0, err


class LifecycleTest(harness.TempDirTest):
    def setUp(self):
        super().setUp()
        make_db(os.path.join(self.dir, "crm.db"), ["account", "contact", "lead"])
        make_db(os.path.join(self.dir, "hr.db"), ["employee"])
        self.port = harness.free_port()
        self.cfg = self.write(
            "linkwatch.yaml",
            "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\nwatch: {interval: 1s}\n"
            "profiles:\n"
            "  - name: crm\n"
            "    source: {type: sqlite, path: crm.db}\n"
            "    destination: {type: lake, path: lake-crm}\n"
            "    tables: [account, contact]\n"
            "  - name: hr\n"
            "    source: {type: sqlite, path: hr.db}\n"
            "    destination: {type: lake, path: lake-hr}\n"
            "    tables: [employee]\n" % self.port)
        self.state = harness.StateDb(os.path.join(self.dir, "state.db"))

    def cli(self, *args):
        return harness.run_cli(*(list(args[:1]) + list(args[1:])))

    def entity(self, profile, table, col):
        rows = self.state.query(
            "SELECT es.%s FROM synapselinkprofileentitystate es JOIN synapselinkprofile p ON "
            "es.profile = p.synapselinkprofileid WHERE p.name = ? AND es.entityname = ?" % col,
            (profile, table))
        return rows[0][0] if rows else None

    def profile(self, name, col="profilestate"):
        rows = self.state.query("SELECT %s FROM synapselinkprofile WHERE name = ?" % col, (name,))
        return rows[0][0] if rows else None

    def test_link_tables_unlink_relink_with_a_running_agent(self):
        # link before any run: the rows exist, NotStarted.
        rc, out, err = self.cli("link", "--config", self.cfg, "--profile", "hr")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.entity("hr", "employee", "initialsyncstate"), 1)
        rc, _, err = self.cli("link", "--config", self.cfg, "--profile", "hr")
        self.assertEqual(rc, 1)
        self.assertIn("already linked", err)
        rc, _, err = self.cli("link", "--config", self.cfg, "--profile", "nosuch")
        self.assertEqual(rc, 2)
        self.assertIn('no profile "nosuch"', err)
        rc, out, err = self.cli("status", "--config", self.cfg)
        self.assertEqual(rc, 0)
        self.assertIn("profile crm is in the config but not linked yet", err)

        agent = harness.Agent(self.cfg).start()
        self.defer(agent.kill)
        # The first run links crm by itself and syncs both profiles.
        for p, t in (("crm", "account"), ("crm", "contact"), ("hr", "employee")):
            harness.wait_for(lambda: self.entity(p, t, "initialsyncstate") == 4,
                             what="%s/%s synced" % (p, t))
        hr_id = self.profile("hr", "synapselinkprofileid")

        # tables add: lead gets its initial sync while account keeps syncing.
        before = self.entity("crm", "account", "lastsynceddatatime")
        rc, out, err = self.cli("tables", "add", "--config", self.cfg, "--profile", "crm", "lead",
                                "lead")  # named twice: added once
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.state.query(
            "SELECT count(*) FROM synapselinkprofileentity WHERE entityname = 'lead'")[0][0], 1)
        harness.wait_for(lambda: self.entity("crm", "lead", "initialsyncstate") == 4,
                         what="lead synced")
        harness.wait_for(lambda: self.entity("crm", "account", "lastsynceddatatime") != before,
                         what="account still syncing")
        rc, out, err = self.cli("status", "--config", self.cfg)
        self.assertIn("crm: table lead is linked but not in the config", err)

        # tables remove: its rows go, its lake files stay.
        rc, out, err = self.cli("tables", "remove", "--config", self.cfg, "--profile", "crm",
                                "contact")
        self.assertEqual(rc, 0, err)
        self.assertIsNone(self.entity("crm", "contact", "syncstate"))
        self.assertTrue(os.listdir(os.path.join(self.dir, "lake-crm", "contact")))
        rc, out, err = self.cli("check-config", "--config", self.cfg)
        self.assertEqual(rc, 0, err)
        self.assertIn("crm: table contact is in the config but not linked", err)

        # unlink: --delete-data needs --confirm; then Deleted, and the sync stops.
        rc, _, err = self.cli("unlink", "--config", self.cfg, "--profile", "hr", "--delete-data")
        self.assertEqual(rc, 2)
        self.assertIn("--confirm hr", err)
        rc, out, err = self.cli("unlink", "--config", self.cfg, "--profile", "hr")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.profile("hr"), 3)
        time.sleep(2.5)
        stopped = self.entity("hr", "employee", "lastsynceddatatime")
        time.sleep(2.5)
        self.assertEqual(self.entity("hr", "employee", "lastsynceddatatime"), stopped)

        # relink refuses while the earlier link's data is there, unless --clear.
        rc, _, err = self.cli("relink", "--config", self.cfg, "--profile", "hr")
        self.assertEqual(rc, 1)
        self.assertIn("--clear", err)
        rc, out, err = self.cli("relink", "--config", self.cfg, "--profile", "hr", "--clear")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.profile("hr"), 1)
        self.assertEqual(self.profile("hr", "synapselinkprofileid"), hr_id)
        harness.wait_for(lambda: self.entity("hr", "employee", "initialsyncstate") == 4,
                         what="hr synced again")
        # The lake was opened afresh: its metadata folders are back.
        self.assertTrue(os.path.isdir(os.path.join(self.dir, "lake-hr", "OptionsetMetadata")))

        # An independent reader agrees with the source.
        harness.wait_for(lambda: lake_check.compare(os.path.join(self.dir, "lake-crm"),
                                                    os.path.join(self.dir, "crm.db"),
                                                    "lead", "leadid") == [],
                         what="lead in the lake")
        rc, out, err = self.cli("lake", "verify", "--path", os.path.join(self.dir, "lake-hr"),
                                "--source", os.path.join(self.dir, "hr.db"), "--json")
        self.assertEqual(rc, 0, out + err)
        report = json.loads(out)
        self.assertTrue(report["ok"])
        self.assertEqual([t["name"] for t in report["tables"] if "name" in t][:1], ["employee"])
        self.assertEqual(agent.stop(), 0)

        # unlink --delete-data with the confirmation removes the lake folder.
        rc, out, err = self.cli("unlink", "--config", self.cfg, "--profile", "hr",
                                "--delete-data", "--confirm", "hr")
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "lake-hr")))


if __name__ == "__main__":
    unittest.main()
