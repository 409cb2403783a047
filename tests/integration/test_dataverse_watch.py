"""Watch mode against the Dataverse emulator.

The agent watches one state file twice: as a `local` source and, through the
Dataverse emulator serving the same file over the Web API, as a `dataverse`
source. Driven by the default rules (examples/rules/synapse-link.yaml, with
`for:` shortened), the same rows must give the same notifications from both
sources, firing and resolving alike; only the `source` label differs. When
the emulator fails every request, SourceUnreachable fires for the dataverse
source alone and resolves once it answers again. No secret reaches the log,
the API, the metrics or the status page.
"""
import json
import os
import re
import subprocess
import time
import unittest
import urllib.request

from harness import (Agent, Receiver, StateDb, TempDirTest, free_port, http_get, iso, wait_for)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EMULATOR = os.environ.get("LINKWATCH_DV_EMULATOR",
                          os.path.join(ROOT, "build", "linkwatch-dataverse-emulator"))
SECRET = "dv-s3cret-never-shown"


class Emulator:
    """The standalone emulator serving `state_db` (None: no state tables), started with
    `extra` arguments; its control API under /_emulator/."""

    def __init__(self, state_db, extra=(), secret=SECRET):
        args = [EMULATOR, "--port", "0", "--client-secret", secret]
        if state_db:
            args += ["--state-db", state_db]
        self.proc = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("emulator did not start: %r" % line)
        self.url = m.group(1)

    def control(self, path, body=None):
        req = urllib.request.Request(self.url + "/_emulator/" + path,
                                     data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def block(self, indent, secret="{env: DV_SECRET}"):
        """The keys of a `type: dataverse` block (watch source or sync source) that reach
        this emulator, indented by `indent` spaces."""
        keys = ["type: dataverse", "url: " + self.url, "authority: " + self.url,
                "tenant_id: tenant", "client_id: linkwatch", "client_secret: " + secret]
        return "".join(" " * indent + k + "\n" for k in keys)

    def counters(self):
        with urllib.request.urlopen(self.url + "/_emulator/counters", timeout=10) as r:
            return json.loads(r.read())

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def rules_text():
    with open(os.path.join(ROOT, "examples", "rules", "synapse-link.yaml")) as f:
        text = f.read()
    return re.sub(r"for: \d+[smh]", "for: 0s", text)


class DataverseWatchTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.defer(self.receiver.close)
        self.port = free_port()
        self.write("rules/synapse-link.yaml", rules_text())
        self.state_path = os.path.join(self.dir, "state.db")
        # The agent creates the state store; the emulator serves it.
        self.emulator = Emulator(self.state_path)
        self.defer(self.emulator.close)
        self.config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch:
  interval: 1s
  source_unreachable_for: 2s
  rule_files: [rules/*.yaml]
  sources:
    - {name: local, type: local}
    - name: contoso
%sreceivers:
  - name: hooks
    webhook: {url: %s}
route:
  receiver: hooks
  group_by: [alertname, source, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (self.port, self.emulator.block(6), self.receiver.url))
        self.agent = Agent(self.config, env={"DV_SECRET": SECRET}).start()
        self.defer(self.agent.stop)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % self.port)[0] == 200,
                 what="readyz")
        self.db = StateDb(self.state_path)

    def seen(self, source):
        """{(status, alertname, labels without source)} notified for `source`."""
        out = set()
        for a in self.receiver.alerts():
            labels = dict(a["labels"])
            if labels.pop("source", None) != source:
                continue
            out.add((a["status"], tuple(sorted(labels.items()))))
        return out

    def test_same_rows_give_the_same_notifications_from_both_sources(self):
        db = self.db
        now = time.time()
        db.add_profile("crm")
        db.add_entity("crm", "account")
        db.add_entity("crm", "contact")
        db.add_entity("crm", "lead", synced=now - 3600)               # stalled
        db.add_entity("crm", "opportunity", initial=8)                # failed initial sync
        db.add_entity("crm", "invoice", crm=10000, lake=100)          # count drift
        db.add_entity("crm", "quote", initial=2, added=now - 7 * 3600)  # initial sync stuck
        db.add_profile("erp", state=2)                                # profile error
        expected = {"SyncStalled", "InitialSyncFailed", "CountDrift", "InitialSyncStuck",
                    "ProfileError"}

        def firing(source):
            return {dict(l)["alertname"] for s, l in self.seen(source) if s == "firing"}

        wait_for(lambda: expected <= firing("local") and expected <= firing("contoso"),
                 timeout=60, what="both sources fire every condition")
        time.sleep(2)  # and nothing else comes from either
        self.assertEqual(self.seen("local"), self.seen("contoso"))

        # Fix every row: both resolve the same.
        db.set_entity("lead", lastsynceddatatime=iso(time.time()))
        db.set_entity("opportunity", initialsyncstate=4)
        db.set_entity("invoice", lakerecordcount=10000)
        db.set_entity("quote", initialsyncstate=4)
        db.set_profile("erp", profilestate=1)

        def resolved(source):
            return {dict(l)["alertname"] for s, l in self.seen(source) if s == "resolved"}

        wait_for(lambda: expected <= resolved("local") and expected <= resolved("contoso"),
                 timeout=60, what="both sources resolve every condition")
        time.sleep(2)
        self.assertEqual(self.seen("local"), self.seen("contoso"))
        # Six requests a poll (one page per table), a token now and then.
        counters = self.emulator.counters()
        self.assertGreater(counters["entity_set_page"], 0)
        self.assertEqual(counters["entity_set_page"] % 6, 0, counters)

    def test_an_unreachable_environment_fires_source_unreachable_then_resolves(self):
        self.db.add_profile("crm")
        self.db.add_entity("crm", "account")
        self.emulator.control("faults/server_error", {"count": 1000000, "status": 503})
        wait_for(lambda: self.receiver.has_alert("SourceUnreachable", "firing", source="contoso"),
                 timeout=60, what="SourceUnreachable for contoso")
        self.assertFalse(self.receiver.has_alert("SourceUnreachable", "firing", source="local"))
        status = json.loads(http_get("http://127.0.0.1:%d/api/v1/status" % self.port)[1])
        text = json.dumps(status)
        self.assertIn("HTTP 503", text)
        self.emulator.control("faults/clear")
        wait_for(lambda: self.receiver.has_alert("SourceUnreachable", "resolved", source="contoso"),
                 timeout=60, what="SourceUnreachable resolved")

    def test_no_secret_reaches_the_log_api_metrics_or_status_page(self):
        self.db.add_profile("crm")
        self.db.add_entity("crm", "account")
        # A refused token and a revoked one: errors are logged and shown.
        self.emulator.control("faults/refuse_token", {"count": 3})
        self.emulator.control("faults/revoke_tokens")
        wait_for(lambda: "invalid_client" in self.agent.output(), timeout=30,
                 what="the refused token in the log")
        base = "http://127.0.0.1:%d" % self.port
        shown = [self.agent.output()]
        for path in ["/api/v1/status", "/metrics", "/", "/api/v1/alerts"]:
            shown.append(http_get(base + path)[1])
        tokens = self.emulator.counters()
        for text in shown:
            self.assertNotIn(SECRET, text)
            self.assertNotIn("Bearer ", text)
        self.assertGreater(tokens["token"], 0)


if __name__ == "__main__":
    unittest.main()
