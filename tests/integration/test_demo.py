"""`linkwatch demo --duration 90`: SyncStalled fires within the first 60 s and
resolves by 90 s; every notification is in DIR/alerts.jsonl; exit code 0.
Re-running on the same folder continues from its state."""
import json
import os
import subprocess
import time
import unittest

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

        # A second run on the same folder keeps the state store.
        p2 = subprocess.run([BINARY, "demo", "--dir", demo_dir, "--listen", "127.0.0.1:0",
                             "--duration", "3"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p2.returncode, 0, p2.stdout + p2.stderr)


if __name__ == "__main__":
    unittest.main()
