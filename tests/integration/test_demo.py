"""`linkwatch demo --duration 90`: SyncStalled fires within the first 60 s and
resolves by 90 s; every notification is in DIR/alerts.jsonl; exit code 0.
Re-running on the same folder continues from its state."""
import json
import os
import sqlite3
import subprocess
import time
import unittest

import lake_check
from harness import BINARY, TempDirTest


class DemoTest(TempDirTest):
    def test_demo_fires_and_resolves_sync_stalled(self):
        demo_dir = os.path.join(self.dir, "demo")
        start = time.time()
        p = subprocess.run([BINARY, "demo", "--dir", demo_dir, "--listen", "127.0.0.1:0",
                            "--duration", "90"], capture_output=True, text=True, timeout=150)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("status page:  http://127.0.0.1:", p.stdout)
        self.assertIn("/metrics", p.stdout)
        with open(os.path.join(demo_dir, "alerts.jsonl")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        events = []
        for n in lines:
            for a in n["alerts"]:
                if a["labels"]["alertname"] == "SyncStalled":
                    events.append((a["status"], n["sentAt"], a))
        firing = [e for e in events if e[0] == "firing"]
        resolved = [e for e in events if e[0] == "resolved"]
        self.assertTrue(firing, "no SyncStalled firing in alerts.jsonl: %s" % lines)
        self.assertTrue(resolved, "no SyncStalled resolved in alerts.jsonl: %s" % lines)

        def at(iso):
            return time.mktime(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone

        self.assertLess(at(firing[0][1]) - start, 60)
        self.assertLess(at(resolved[0][1]) - start, 90)
        self.assertEqual(firing[0][2]["labels"]["entity"], "account")
        self.assertIn("[FIRING:1] SyncStalled", p.stderr)

        # The sync drained before exit: the lake agrees with the source row for
        # row (in place: same Ids and versions; append only: the rebuilt state),
        # and the state rows show Completed initial syncs and the source's counts.
        src = os.path.join(demo_dir, "crm.db")
        lake = os.path.join(demo_dir, "lake")
        for table in ("account", "contact", "opportunity"):
            self.assertEqual(lake_check.compare(lake, src, table, table + "id"), [], table)
        v = subprocess.run([BINARY, "lake", "verify", "--path", lake, "--source", src],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        con = sqlite3.connect(os.path.join(demo_dir, "state.db"))
        rows = con.execute("SELECT entityname, initialsyncstate, crmrecordcount, lakerecordcount "
                           "FROM synapselinkprofileentitystate").fetchall()
        con.close()
        srccon = sqlite3.connect(src)
        self.assertEqual(len(rows), 3, rows)
        for table, initial, crm, lake_count in rows:
            n = srccon.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
            self.assertEqual(initial, 4, table)
            self.assertEqual(crm, n, table)
            if table != "opportunity":  # append only counts change rows
                self.assertEqual(lake_count, n, table)
        srccon.close()

        # A second run on the same folder keeps the state store.
        p2 = subprocess.run([BINARY, "demo", "--dir", demo_dir, "--listen", "127.0.0.1:0",
                             "--duration", "3"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p2.returncode, 0, p2.stdout + p2.stderr)


if __name__ == "__main__":
    unittest.main()
