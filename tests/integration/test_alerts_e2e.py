"""End to end: plain SQL changes in the state store -> Alertmanager-v4 posts.

A table stalls, an initial sync ends CompletedWithFailures, counts drift and a
profile goes to Error; each gives a firing post at a local webhook receiver,
then a resolved post once the rows are fixed.
"""
import hashlib
import hmac
import os
import time
import unittest

from harness import (Agent, Receiver, StateDb, TempDirTest, free_port, http_get, iso, wait_for)

RULES = """
groups:
  - name: synapse-link
    rules:
      - alert: SyncStalled
        expr: profile.profilestate == "Active" and syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        for: 1s
        labels: {severity: critical}
        annotations:
          summary: "{{ entityname }} in {{ profile }} has not synced for {{ age(lastsynceddatatime) }}"
      - alert: InitialSyncFailed
        expr: profile.profilestate == "Active" and initialsyncstate == "CompletedWithFailures"
        labels: {severity: critical}
      - alert: CountDrift
        expr: >-
          profile.profilestate == "Active" and not coalesce(entity.appendonlymode, false)
          and abs(crmrecordcount - lakerecordcount) > max(100, 0.01 * crmrecordcount)
        labels: {severity: warning}
      - alert: ProfileError
        on: profile
        expr: profilestate in ["Error", "Suspended", "Aborted"]
        labels: {severity: critical}
"""


class AlertsEndToEndTest(TempDirTest):
    def start(self, hmac_secret=None):
        self.receiver = Receiver()
        self.defer(self.receiver.close)
        self.port = free_port()
        self.write("rules/synapse.yaml", RULES)
        hook = "{url: %s%s}" % (self.receiver.url,
                                ", hmac_secret: %s" % hmac_secret if hmac_secret else "")
        self.config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: hooks
    webhook: %s
route:
  receiver: hooks
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (self.port, hook))
        self.agent = Agent(self.config).start()
        self.defer(self.agent.stop)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % self.port)[0] == 200,
                 what="readyz")
        self.db = StateDb(os.path.join(self.dir, "state.db"))

    def test_each_condition_fires_then_resolves(self):
        self.start()
        db = self.db
        db.add_profile("crm")
        db.add_entity("crm", "account")
        db.add_entity("crm", "contact")
        db.add_entity("crm", "opportunity")
        time.sleep(1.5)
        self.assertEqual(self.receiver.alerts(), [], "healthy rows must not alert")

        # A table stalls: its last sync is an hour old.
        db.set_entity("account", lastsynceddatatime=iso(time.time() - 3600))
        wait_for(lambda: self.receiver.has_alert("SyncStalled", "firing", entity="account",
                                                 profile="crm", severity="critical"),
                 what="SyncStalled firing")
        alert = [a for a in self.receiver.alerts("firing")
                 if a["labels"]["alertname"] == "SyncStalled"][0]
        self.assertIn("account in crm has not synced for 1h", alert["annotations"]["summary"])
        self.assertEqual(alert["labels"]["source"], "local")
        self.assertEqual(len(alert["fingerprint"]), 16)
        self.assertEqual(alert["endsAt"], "0001-01-01T00:00:00Z")
        # The status page shows the table and the firing alert.
        code, page = http_get("http://127.0.0.1:%d/" % self.port)
        self.assertEqual(code, 200)
        self.assertIn("SyncStalled", page)
        self.assertIn("opportunity", page)
        code, status = http_get("http://127.0.0.1:%d/api/v1/status" % self.port)
        self.assertEqual(code, 200)
        self.assertIn('"table":"account"', status.replace(" ", ""))
        body = self.receiver.bodies()[-1]
        self.assertEqual(body["version"], "4")
        self.assertEqual(body["receiver"], "hooks")
        self.assertEqual(body["status"], "firing")

        # An initial sync ends CompletedWithFailures.
        db.set_entity("contact", initialsyncstate=8)
        wait_for(lambda: self.receiver.has_alert("InitialSyncFailed", "firing", entity="contact"),
                 what="InitialSyncFailed firing")
        # Counts drift.
        db.set_entity("opportunity", crmrecordcount=10000, lakerecordcount=9000)
        wait_for(lambda: self.receiver.has_alert("CountDrift", "firing", entity="opportunity"),
                 what="CountDrift firing")
        # The profile goes to Error.
        db.set_profile("crm", profilestate=2)
        wait_for(lambda: self.receiver.has_alert("ProfileError", "firing", profile="crm"),
                 what="ProfileError firing")
        # The entity rules consider Active profiles only: they resolve now.
        wait_for(lambda: self.receiver.has_alert("SyncStalled", "resolved", entity="account"),
                 what="SyncStalled resolved when the profile is not Active")

        # Fix every row.
        db.set_profile("crm", profilestate=1)
        db.set_entity("account", lastsynceddatatime=iso(time.time()))
        db.set_entity("contact", initialsyncstate=4)
        db.set_entity("opportunity", crmrecordcount=10000, lakerecordcount=10000)
        for name, labels in (("ProfileError", {"profile": "crm"}),
                             ("InitialSyncFailed", {"entity": "contact"}),
                             ("CountDrift", {"entity": "opportunity"})):
            wait_for(lambda: self.receiver.has_alert(name, "resolved", **labels),
                     what=name + " resolved")
        resolved = [a for a in self.receiver.alerts("resolved")
                    if a["labels"]["alertname"] == "CountDrift"][0]
        self.assertNotEqual(resolved["endsAt"], "0001-01-01T00:00:00Z")

        # The API shows nothing firing any more.
        code, text = http_get("http://127.0.0.1:%d/api/v1/alerts" % self.port)
        self.assertEqual(code, 200)
        self.assertNotIn('"firing"', text)
        self.assertEqual(self.agent.stop(), 0)

    def test_body_is_signed_with_hmac_secret(self):
        self.start(hmac_secret="topsecret")
        self.db.add_profile("crm", state=2)
        wait_for(lambda: self.receiver.has_alert("ProfileError", "firing"), what="post")
        path, headers, body, _, raw = self.receiver.posts[0]
        expected = "sha256=" + hmac.new(b"topsecret", raw, hashlib.sha256).hexdigest()
        self.assertEqual(headers.get("X-Linkwatch-Signature"), expected)
        self.assertNotIn("topsecret", self.agent.output())


if __name__ == "__main__":
    unittest.main()
