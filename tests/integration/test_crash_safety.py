"""Crash safety of alerting: the receiver fails, the agent is SIGKILLed while
notifications are pending, and after a restart every notification arrives
(at most one duplicate each); a firing alert is not forgotten and a resolved
one still gets its resolved notification."""
import collections
import json
import os
import time
import unittest

from harness import (Agent, Receiver, StateDb, TempDirTest, free_port, http_get, iso, wait_for)

RULES = """
groups:
  - name: g
    rules:
      - alert: SyncStalled
        expr: syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        labels: {severity: critical}
      - alert: ProfileError
        on: profile
        expr: profilestate == "Error"
        labels: {severity: critical}
"""


class CrashSafetyTest(TempDirTest):
    def test_pending_notifications_survive_sigkill(self):
        status = {"code": 200}
        receiver = Receiver(status=lambda: status["code"])
        self.defer(receiver.close)
        port = free_port()
        self.write("rules.yaml", RULES)
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: 1s, rule_files: [rules.yaml]}
receivers:
  - name: hooks
    webhook: {url: %s}
route:
  receiver: hooks
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (port, receiver.url))
        agent = Agent(config).start()
        self.defer(agent.kill)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="ready")
        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm")
        db.add_entity("crm", "account", synced=time.time() - 3600)
        db.add_entity("crm", "contact")
        # 1. account stalls and is delivered.
        wait_for(lambda: receiver.has_alert("SyncStalled", "firing", entity="account"),
                 what="first SyncStalled")
        first_starts = receiver.alerts("firing")[0]["startsAt"]

        # 2. The receiver fails; account recovers, contact stalls, the profile errors.
        status["code"] = 503
        attempts_before = receiver.attempts
        db.set_entity("account", lastsynceddatatime=iso(time.time()))
        db.set_entity("contact", lastsynceddatatime=iso(time.time() - 7200))
        db.set_profile("crm", profilestate=2)
        wait_for(lambda: receiver.attempts > attempts_before, what="failed attempts")
        # Three notifications (account resolved, contact firing, ProfileError firing) wait.
        wait_for(lambda: db.query("SELECT count(*) FROM linkwatch_outbox "
                                  "WHERE state = 'pending'")[0][0] >= 3,
                 what="three pending notifications in the outbox")

        # 3. Kill the agent hard while they are pending.
        agent.kill()
        time.sleep(0.5)
        self.assertEqual(receiver.alerts("resolved"), [])

        # 4. The receiver recovers; restart.
        status["code"] = 200
        agent2 = Agent(config).start()
        self.defer(agent2.kill)
        wait_for(lambda: receiver.has_alert("SyncStalled", "resolved", entity="account"),
                 what="resolved notification after restart")
        wait_for(lambda: receiver.has_alert("SyncStalled", "firing", entity="contact"),
                 what="contact firing after restart")
        wait_for(lambda: receiver.has_alert("ProfileError", "firing", profile="crm"),
                 what="ProfileError firing after restart")
        time.sleep(3)  # let any duplicate arrive

        # At most one duplicate of each notification.
        counts = collections.Counter()
        for body in receiver.bodies():
            for a in body["alerts"]:
                counts[(a["labels"]["alertname"], a["labels"].get("entity"), a["status"])] += 1
        for key, n in counts.items():
            self.assertLessEqual(n, 2, "notification %s arrived %d times" % (key, n))

        # The firing alerts were not forgotten: same startsAt as before the kill.
        code, text = http_get("http://127.0.0.1:%d/api/v1/alerts" % port)
        self.assertEqual(code, 200)
        alerts = json.loads(text)
        firing = {(a["labels"]["alertname"], a["labels"].get("entity")): a for a in alerts
                  if a["state"] == "firing"}
        self.assertIn(("SyncStalled", "contact"), firing)
        self.assertIn(("ProfileError", None), firing)
        self.assertNotIn(("SyncStalled", "account"), firing)
        self.assertNotEqual(first_starts, "")
        pending = db.query("SELECT count(*) FROM linkwatch_outbox WHERE state = 'pending'")[0][0]
        self.assertEqual(pending, 0)
        self.assertEqual(agent2.stop(), 0)

    def test_pending_alert_keeps_its_for_across_restart(self):
        receiver = Receiver()
        self.defer(receiver.close)
        port = free_port()
        self.write("rules.yaml", """
groups:
  - name: g
    rules:
      - alert: ProfileError
        on: profile
        expr: profilestate == "Error"
        for: 6s
""")
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: 500ms, rule_files: [rules.yaml]}
receivers: [{name: hooks, webhook: {url: %s}}]
route: {receiver: hooks, group_wait: 0s, group_interval: 1s}
""" % (port, receiver.url))
        agent = Agent(config).start()
        self.defer(agent.kill)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="ready")
        db = StateDb(os.path.join(self.dir, "state.db"))
        t0 = time.time()
        db.add_profile("crm", state=2)
        wait_for(lambda: '"pending"' in http_get("http://127.0.0.1:%d/api/v1/alerts" % port)[1],
                 what="pending")
        time.sleep(2)
        agent.kill()
        agent = Agent(config).start()
        self.defer(agent.kill)
        wait_for(lambda: receiver.has_alert("ProfileError", "firing"), timeout=20, what="firing")
        fired_after = receiver.posts[0][3] - t0
        # `for` counted from before the restart: fires ~6s after the change, not 6s after restart.
        self.assertLess(fired_after, 9.5, "for restarted after the crash (%.1fs)" % fired_after)
        self.assertGreaterEqual(fired_after, 5.5)


if __name__ == "__main__":
    unittest.main()
