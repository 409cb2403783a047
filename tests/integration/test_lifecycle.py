#!/usr/bin/python3
"""Lifecycle commands against a running agent: link, tables add|remove,
unlink (--delete-data --confirm), relink (--clear), status and check-config
notes, and `lake verify` (with --source) on the result."""
import json
import os
import sqlite3
import sys
import threading
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

    # --- issue 8 --------------------------------------------------------------------------------
    def lake_equals_source(self, lake, db, table, key):
        """The lake agrees with the source: versions (an independent reader) and values
        (`lake verify --source`)."""
        if lake_check.compare(lake, db, table, key) != []:
            return False
        rc, out, err = self.cli("lake", "verify", "--path", lake, "--source", db, "--json")
        return rc == 0 and json.loads(out)["ok"]

    def wait_synced(self, profile, table):
        def synced():
            try:
                return self.entity(profile, table, "initialsyncstate") == 4
            except sqlite3.OperationalError:  # the agent has not created the store yet
                return False
        harness.wait_for(synced, timeout=120, what="%s/%s synced" % (profile, table))

    def symlinked_config(self, hr_destination, name="symlinked.yaml"):
        return self.write(
            name,
            "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\nwatch: {interval: 1s}\n"
            "profiles:\n"
            "  - name: crm\n"
            "    source: {type: sqlite, path: crm.db}\n"
            "    destination: {type: lake, path: lake-crm}\n"
            "    tables: [account]\n"
            "  - name: hr\n"
            "    source: {type: sqlite, path: hr.db}\n"
            "    destination: {type: lake, path: %s}\n"
            "    tables: [employee]\n" % (self.port, hr_destination))

    def test_delete_data_follows_a_symlinked_lake(self):
        # Issue 8 point 8: through a symlinked lake path, unlink --delete-data removed only the
        # link, said "deleted .../lake" and left the data.
        real = os.path.join(self.dir, "disk", "lake-hr")
        os.makedirs(real)
        link = os.path.join(self.dir, "lake-hr-link")
        os.symlink(real, link)
        cfg = self.symlinked_config("lake-hr-link")
        hr_db = os.path.join(self.dir, "hr.db")
        agent = harness.Agent(cfg).start()
        self.defer(agent.kill)
        self.wait_synced("hr", "employee")
        self.assertTrue(os.path.exists(os.path.join(real, "model.json")))
        harness.wait_for(lambda: self.lake_equals_source(link, hr_db, "employee", "employeeid"),
                         timeout=60, what="hr lake equal to its source")

        # relink --clear through the symlink: the lake's content goes, the folder and the
        # symlink stay, and the agent writes the lake there again.
        rc, out, err = self.cli("unlink", "--config", cfg, "--profile", "hr")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("relink", "--config", cfg, "--profile", "hr", "--clear")
        self.assertEqual(rc, 0, err)
        self.assertIn("deleted the content of lake folder %s (reached through %s)" % (real, link),
                      out)
        self.assertTrue(os.path.islink(link))
        self.assertTrue(os.path.isdir(real))
        harness.wait_for(lambda: os.path.exists(os.path.join(real, "model.json")) and
                         self.lake_equals_source(link, hr_db, "employee", "employeeid"),
                         timeout=120, what="hr synced again into the symlinked folder")
        self.wait_synced("hr", "employee")

        # unlink --delete-data, with the agent running: the folder the symlink names goes, and
        # the symlink too; the output says both.
        rc, out, err = self.cli("unlink", "--config", cfg, "--profile", "hr", "--delete-data",
                                "--confirm", "hr")
        self.assertEqual(rc, 0, err)
        self.assertIn("deleted lake folder %s and the symlink %s naming it" % (real, link), out)
        self.assertFalse(os.path.exists(real))
        self.assertFalse(os.path.lexists(link))
        self.assertTrue(os.path.exists(hr_db))
        self.assertEqual(self.profile("hr"), 3)
        # The other profile is untouched and still agrees with its source.
        self.assertTrue(self.lake_equals_source(os.path.join(self.dir, "lake-crm"),
                                                os.path.join(self.dir, "crm.db"), "account",
                                                "accountid"))
        self.assertEqual(agent.stop(), 0)

    def test_delete_data_refuses_a_folder_that_is_not_this_profiles_lake(self):
        # A symlink leading to a folder that is not a lake: refused before anything changes.
        other = os.path.join(self.dir, "home")
        os.makedirs(other)
        precious = self.write("home/precious.txt", "keep me\n")
        os.symlink(other, os.path.join(self.dir, "lake-hr-link"))
        cfg = self.symlinked_config("lake-hr-link")
        rc, _, err = self.cli("link", "--config", cfg, "--profile", "hr")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("unlink", "--config", cfg, "--profile", "hr", "--delete-data",
                                "--confirm", "hr")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("does not look like a linkwatch lake", err)
        self.assertIn("nothing deleted", err)
        self.assertNotIn("deleted", out)
        self.assertTrue(os.path.exists(precious))
        self.assertEqual(self.profile("hr"), 1)  # a refusal changes nothing

        # The symlink retargeted to another profile's lake after the link: refused too.
        rc, _, err = self.cli("link", "--config", cfg, "--profile", "crm")
        self.assertEqual(rc, 0, err)
        crm_lake = os.path.join(self.dir, "lake-crm")
        os.makedirs(crm_lake)
        self.write("lake-crm/model.json", "{\"entities\": []}")
        os.unlink(os.path.join(self.dir, "lake-hr-link"))
        os.symlink(crm_lake, os.path.join(self.dir, "lake-hr-link"))
        rc, out, err = self.cli("unlink", "--config", cfg, "--profile", "hr", "--delete-data",
                                "--confirm", "hr")
        self.assertEqual(rc, 2, out + err)  # the config itself is refused (point 11b)
        self.assertIn("is already the destination of another profile, crm", err)
        # With hr gone from the config, its recorded path now leads to crm's lake.
        only_crm = self.write(
            "only-crm.yaml", "state_db: state.db\nprofiles:\n"
            "  - {name: crm, source: {type: sqlite, path: crm.db}, "
            "destination: {type: lake, path: lake-crm}, tables: [account]}\n")
        rc, out, err = self.cli("unlink", "--config", only_crm, "--profile", "hr",
                                "--delete-data", "--confirm", "hr")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("is (or shares a folder with) the destination of profile crm", err)
        self.assertTrue(os.path.exists(os.path.join(crm_lake, "model.json")))
        self.assertEqual(self.profile("hr"), 1)

        # A config whose destination moved since the link: not the lake it was linked with.
        moved = self.symlinked_config("lake-elsewhere", "moved.yaml")
        os.makedirs(os.path.join(self.dir, "lake-elsewhere"))
        self.write("lake-elsewhere/model.json", "{\"entities\": []}")
        rc, out, err = self.cli("unlink", "--config", moved, "--profile", "hr", "--delete-data",
                                "--confirm", "hr")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("%s is not the lake this profile was linked with (%s -> %s)" %
                      (os.path.join(self.dir, "lake-elsewhere"),
                       os.path.join(self.dir, "lake-hr-link"), crm_lake), err)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "lake-elsewhere", "model.json")))

        # A warehouse (sqlite destination) is a file: not deleted by this version, and said so.
        warehouse = self.write(
            "warehouse.yaml", "state_db: state.db\nprofiles:\n"
            "  - {name: wh, source: {type: sqlite, path: hr.db}, "
            "destination: {type: sqlite, path: wh.db}, tables: [employee]}\n")
        rc, _, err = self.cli("link", "--config", warehouse, "--profile", "wh")
        self.assertEqual(rc, 0, err)
        wh_db = self.write("wh.db", "warehouse tables\n")
        rc, out, err = self.cli("unlink", "--config", warehouse, "--profile", "wh",
                                "--delete-data", "--confirm", "wh")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("%s is not a folder: only a lake folder is deleted" % wh_db, err)
        self.assertTrue(os.path.exists(wh_db))
        self.assertEqual(self.profile("wh"), 1)

        # Nothing there: said so, and nothing is claimed.
        os.unlink(os.path.join(self.dir, "lake-hr-link"))
        rc, out, err = self.cli("unlink", "--config", cfg, "--profile", "hr", "--delete-data",
                                "--confirm", "hr")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("nothing to delete: %s does not exist" %
                      os.path.join(self.dir, "lake-hr-link"), out)
        self.assertNotIn("deleted", out)
        self.assertEqual(self.profile("hr"), 3)

    def test_a_profile_removed_from_the_config_can_still_be_unlinked(self):
        # Issue 8 point 9: check-config said ok without a note, and unlink refused.
        agent = harness.Agent(self.cfg).start()
        self.defer(agent.kill)
        self.wait_synced("hr", "employee")
        self.wait_synced("crm", "account")
        hr_lake = os.path.join(self.dir, "lake-hr")
        harness.wait_for(lambda: self.lake_equals_source(hr_lake, os.path.join(self.dir, "hr.db"),
                                                         "employee", "employeeid"),
                         timeout=60, what="hr lake equal to its source")
        self.assertEqual(agent.stop(), 0)
        without_hr = self.write(
            "without-hr.yaml",
            "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\nwatch: {interval: 1s}\n"
            "profiles:\n"
            "  - name: crm\n"
            "    source: {type: sqlite, path: crm.db}\n"
            "    destination: {type: lake, path: lake-crm}\n"
            "    tables: [account, contact]\n" % self.port)
        note = ("profile hr is linked but no longer in the config, so nothing syncs it; "
                "linkwatch unlink --config %s --profile hr stops it" % without_hr)
        rc, out, err = self.cli("check-config", "--config", without_hr)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(note, err)
        rc, out, err = self.cli("status", "--config", without_hr)
        self.assertEqual(rc, 0, out + err)
        self.assertIn(note, err)
        # Also when the config has no profiles left (it only watches).
        watch_only = self.write("watch-only.yaml", "state_db: state.db\n")
        rc, out, err = self.cli("check-config", "--config", watch_only)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("profile hr is linked but no longer in the config", err)
        self.assertIn("profile crm is linked but no longer in the config", err)
        # ... but profile rows another tool wrote into a watched store are not linkwatch's.
        self.state.add_profile("dataverse-mirror")
        rc, out, err = self.cli("status", "--config", watch_only)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("dataverse-mirror", err)
        # Commands that need the profile's config say what to do instead.
        rc, out, err = self.cli("relink", "--config", without_hr, "--profile", "hr")
        self.assertEqual(rc, 2)
        self.assertIn("the state store has it linked", err)
        self.assertIn("linkwatch unlink --config %s --profile hr" % without_hr, err)

        # unlink --delete-data works from the state store's record of the lake.
        rc, out, err = self.cli("unlink", "--config", without_hr, "--profile", "hr",
                                "--delete-data", "--confirm", "hr")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("unlinked profile hr", out)
        self.assertIn("deleted lake folder %s" % hr_lake, out)
        self.assertFalse(os.path.exists(hr_lake))
        self.assertEqual(self.profile("hr"), 3)
        rc, out, err = self.cli("check-config", "--config", without_hr)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("profile hr", err)
        # A name neither configured nor linked is still refused.
        rc, _, err = self.cli("unlink", "--config", without_hr, "--profile", "nosuch")
        self.assertEqual(rc, 2)
        self.assertIn('no profile "nosuch"', err)
        # crm goes on syncing with the new config.
        agent = harness.Agent(without_hr).start()
        self.defer(agent.kill)
        con = sqlite3.connect(os.path.join(self.dir, "crm.db"))
        con.execute("UPDATE account SET name = 'changed' WHERE accountid = 7")
        con.commit()
        con.close()
        harness.wait_for(lambda: self.lake_equals_source(
            os.path.join(self.dir, "lake-crm"), os.path.join(self.dir, "crm.db"), "account",
            "accountid"), timeout=60, what="crm lake equal to its source")
        self.assertEqual(agent.stop(), 0)

    def test_add_remove_cycles_under_a_writer_leave_no_orphan_rows(self):
        """Issue 8 point 10: a batch in flight while `tables remove` deletes the table must
        not write its cursor (or error, or break) back; after many cycles under a writer
        changing rows every 50 ms no row of linkwatch's bookkeeping names a removed table,
        and the table, added once more, ends equal to the source."""
        cfg = self.write("fast.yaml", open(self.cfg).read().replace(
            "    tables: [account, contact]\n",
            "    sync_interval: 100ms\n    tables: [account, contact]\n"))
        agent = harness.Agent(cfg).start()
        self.defer(agent.kill)
        self.wait_synced("crm", "account")
        db = os.path.join(self.dir, "crm.db")
        stop = threading.Event()

        def writer():
            con = sqlite3.connect(db, timeout=30)
            i = 0
            while not stop.is_set():
                i += 1
                with con:
                    con.execute("UPDATE lead SET name = ? WHERE leadid = ?",
                                ("lead %d" % i, 1 + i % 200))
                time.sleep(0.05)
            con.close()
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        self.defer(lambda: (stop.set(), t.join(10)))

        orphans = ("SELECT (SELECT count(*) FROM linkwatch_sync_cursor WHERE profileentity NOT IN "
                   "(SELECT synapselinkprofileentityid FROM synapselinkprofileentity)) + "
                   "(SELECT count(*) FROM linkwatch_sync_error e WHERE NOT EXISTS (SELECT 1 FROM "
                   "synapselinkprofileentity pe JOIN synapselinkprofile p ON pe.profile = "
                   "p.synapselinkprofileid WHERE p.name = e.profile AND pe.entityname = e.entity))"
                   " + (SELECT count(*) FROM linkwatch_sync_break b WHERE NOT EXISTS (SELECT 1 "
                   "FROM synapselinkprofileentity pe JOIN synapselinkprofile p ON pe.profile = "
                   "p.synapselinkprofileid WHERE p.name = b.profile AND pe.entityname = b.entity))")
        for cycle in range(25):
            rc, out, err = self.cli("tables", "add", "--config", cfg, "--profile", "crm", "lead")
            self.assertEqual(rc, 0, err)
            # Wait for a commit of the table (its cursor row), so that the removal can meet
            # a batch in flight.
            harness.wait_for(lambda: self.state.query(
                "SELECT count(*) FROM linkwatch_sync_cursor WHERE entity = 'lead'")[0][0] > 0,
                timeout=120, what="lead committed (cycle %d)" % cycle)
            rc, out, err = self.cli("tables", "remove", "--config", cfg, "--profile", "crm",
                                    "lead")
            self.assertEqual(rc, 0, err)
        # A batch in flight at the last removal tries its commit within a round (100 ms);
        # waiting longer can only let a wrong write show.
        time.sleep(1)
        self.assertEqual(self.state.query(orphans)[0][0], 0, "orphan rows after the cycles")
        stop.set()
        t.join(10)

        rc, out, err = self.cli("tables", "add", "--config", cfg, "--profile", "crm", "lead")
        self.assertEqual(rc, 0, err)
        harness.wait_for(lambda: self.lake_equals_source(os.path.join(self.dir, "lake-crm"), db,
                                                         "lead", "leadid"),
                         timeout=180, what="lead equal to the source after the cycles")
        self.assertEqual(self.state.query(orphans)[0][0], 0)
        self.assertEqual(agent.stop(), 0)

    def test_tables_add_refuses_what_cannot_be_synced(self):
        # Issue 8 point 11a: `tables add` accepted ../evil, .hidden and a missing table (rc 0),
        # and the agent then retried forever.
        crm_db = os.path.join(self.dir, "crm.db")
        con = sqlite3.connect(crm_db)
        con.execute("CREATE TABLE memo(memoid INTEGER PRIMARY KEY, body TEXT)")
        con.commit()
        con.close()
        rc, _, err = self.cli("link", "--config", self.cfg, "--profile", "crm")
        self.assertEqual(rc, 0, err)
        for name, message in (
                ("../evil", 'table name "../evil" is not allowed'),
                (".hidden", 'table name ".hidden" is not allowed'),
                ("a/b", 'table name "a/b" is not allowed'),
                ("nosuch", 'profile crm: no table "nosuch" in %s' % crm_db),
                ("memo", 'profile crm: table "memo" in %s has no change tracking; enable it '
                         'with: linkwatch source enable-change-tracking --db %s --table memo' %
                 (crm_db, crm_db))):
            rc, out, err = self.cli("tables", "add", "--config", self.cfg, "--profile", "crm",
                                    name)
            self.assertEqual(rc, 2, "%s: %s" % (name, out + err))
            self.assertIn(message, err)
        # One bad name refuses the whole command: nothing was added.
        rc, out, err = self.cli("tables", "add", "--config", self.cfg, "--profile", "crm", "lead",
                                "nosuch")
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(self.state.query(
            "SELECT entityname FROM synapselinkprofileentity ORDER BY entityname"),
            [("account",), ("contact",)])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "evil")))
        # After enabling tracking as the message says, memo is accepted and syncs.
        rc, _, err = harness.run_cli("source", "enable-change-tracking", "--db", crm_db,
                                     "--table", "memo")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("tables", "add", "--config", self.cfg, "--profile", "crm", "memo")
        self.assertEqual(rc, 0, out + err)

        # The same rules for the config's tables: check-config and link refuse bad names (exit
        # 2, at the name), check-config warns about tables missing from the source, and link
        # refuses them.
        bad = self.write(
            "bad.yaml",
            "state_db: state.db\nprofiles:\n"
            "  - name: hr\n"
            "    source: {type: sqlite, path: hr.db}\n"
            "    destination: {type: lake, path: lake-hr}\n"
            "    tables: [employee, ../evil]\n")
        for cmd in (["check-config", "--config", bad], ["link", "--config", bad, "--profile", "hr"]):
            rc, out, err = self.cli(*cmd)
            self.assertEqual(rc, 2, out + err)
            self.assertIn('%s:6:24: profile hr: table name "../evil" is not allowed' % bad, err)
        missing = self.write(
            "missing.yaml",
            "state_db: state.db\nprofiles:\n"
            "  - name: hr\n"
            "    source: {type: sqlite, path: hr.db}\n"
            "    destination: {type: lake, path: lake-hr}\n"
            "    tables: [employee, payroll]\n")
        rc, out, err = self.cli("check-config", "--config", missing)
        self.assertEqual(rc, 0, out + err)
        self.assertIn('warning: profile hr: no table "payroll" in %s' %
                      os.path.join(self.dir, "hr.db"), err)
        rc, out, err = self.cli("link", "--config", missing, "--profile", "hr")
        self.assertEqual(rc, 2, out + err)
        self.assertIn('no table "payroll"', err)
        self.assertIsNone(self.profile("hr"))

        # With a running agent the accepted table syncs, equal to its source.
        con = sqlite3.connect(crm_db)
        con.executemany("INSERT INTO memo VALUES (?, ?)", [(i, "memo %d" % i) for i in range(50)])
        con.commit()
        con.close()
        agent = harness.Agent(self.cfg).start()
        self.defer(agent.kill)
        self.wait_synced("crm", "memo")
        harness.wait_for(lambda: self.lake_equals_source(os.path.join(self.dir, "lake-crm"),
                                                         crm_db, "memo", "memoid"),
                         timeout=60, what="memo in the lake")
        self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
