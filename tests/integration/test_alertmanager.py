"""Forwarding to a real Alertmanager (Debian's prometheus-alertmanager,
started by the test on loopback).

Two linkwatch instances watch the same Synapse Link state (each its own state
store with the same rows), both forward their alerts to one Alertmanager;
Alertmanager lists the alert once in its API and sends exactly one
notification for it to its webhook. Resolving the rows resolves the alert in
Alertmanager.
"""
import json
import os
import subprocess
import time
import unittest

from harness import metric, Agent, Receiver, StateDb, TempDirTest, free_port, http_get, iso, wait_for

RULES = """
groups:
  - name: synapse-link
    rules:
      - alert: SyncStalled
        expr: syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        labels: {severity: critical}
        annotations:
          summary: "{{ entityname }} has not synced for a while"
"""


class AlertmanagerTest(TempDirTest):
    def start_alertmanager(self):
        self.am_hook = Receiver()
        self.defer(self.am_hook.close)
        self.am_port = free_port()
        self.am_url = "http://127.0.0.1:%d" % self.am_port
        config = self.write("am/alertmanager.yml", """
route:
  receiver: hook
  group_by: [alertname, profile, entity]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
""" % self.am_hook.url)
        log = open(os.path.join(self.dir, "am", "am.log"), "wb")
        self.am = subprocess.Popen(
            ["prometheus-alertmanager", "--config.file=" + config,
             "--storage.path=" + os.path.join(self.dir, "am", "data"),
             "--web.listen-address=127.0.0.1:%d" % self.am_port,
             "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT)

        def stop():
            self.am.terminate()
            self.am.wait(10)
            log.close()
        self.defer(stop)
        wait_for(lambda: http_get(self.am_url + "/-/ready")[0] == 200, what="alertmanager ready")

    def start_linkwatch(self, name):
        folder = os.path.join(self.dir, name)
        os.makedirs(folder)
        port = free_port()
        self.write(name + "/rules/synapse.yaml", RULES)
        config = self.write(name + "/linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: am
    alertmanager: {url: %s, resend_interval: 2s}
route:
  receiver: am
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (port, self.am_url))
        agent = Agent(config).start()
        self.defer(agent.stop)
        base = "http://127.0.0.1:%d" % port
        wait_for(lambda: http_get(base + "/readyz")[0] == 200, what=name + " ready")
        db = StateDb(os.path.join(folder, "state.db"))
        db.add_profile("crm")
        db.add_entity("crm", "account")
        return base, db

    def delivered(self, base):
        code, text = http_get(base + "/metrics")
        return metric(text, "linkwatch_notifications_total", receiver="am") or 0

    def am_alerts(self):
        code, text = http_get(self.am_url + "/api/v2/alerts")
        return json.loads(text) if code == 200 else []

    def test_two_replicas_give_one_notification(self):
        self.start_alertmanager()
        a, db_a = self.start_linkwatch("a")
        b, db_b = self.start_linkwatch("b")
        stalled = iso(time.time() - 3600)
        db_a.set_entity("account", lastsynceddatatime=stalled)
        db_b.set_entity("account", lastsynceddatatime=stalled)

        # Both replicas forward (and re-send: resend_interval 2s).
        wait_for(lambda: self.delivered(a) >= 2 and self.delivered(b) >= 2, timeout=60,
                 what="both replicas forwarded the alert twice")
        alerts = self.am_alerts()
        self.assertEqual(len(alerts), 1, alerts)
        alert = alerts[0]
        self.assertEqual(alert["labels"]["alertname"], "SyncStalled")
        self.assertEqual(alert["labels"]["entity"], "account")
        self.assertEqual(alert["labels"]["profile"], "crm")
        self.assertEqual(alert["annotations"]["summary"], "account has not synced for a while")
        self.assertEqual(alert["status"]["state"], "active")
        self.assertIn("#alert-", alert["generatorURL"])
        # Alertmanager's webhook: one notification, however many posts.
        wait_for(lambda: self.am_hook.alerts("firing"), what="alertmanager notified")
        firing_posts = [b for b in self.am_hook.bodies() if b["status"] == "firing"]
        self.assertEqual(len(firing_posts), 1, firing_posts)

        # The rows recover in both: Alertmanager resolves the alert.
        fresh = iso(time.time())
        db_a.set_entity("account", lastsynceddatatime=fresh)
        db_b.set_entity("account", lastsynceddatatime=fresh)
        wait_for(lambda: self.am_hook.alerts("resolved"), timeout=60,
                 what="alertmanager notified the resolution")
        firing_posts = [b for b in self.am_hook.bodies() if b["status"] == "firing"]
        self.assertEqual(len(firing_posts), 1, "still one firing notification")


if __name__ == "__main__":
    unittest.main()
