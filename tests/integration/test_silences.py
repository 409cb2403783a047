"""Silences and inhibition, end to end, and the Alertmanager API v2 subset
driven by the real `amtool` (Debian's prometheus-alertmanager package).

* A silence (POST /api/v1/silences) keeps a firing alert from being notified
  while the alerts beside it are; expiring it lets the notification out.
* An inhibit rule mutes entity alerts while ProfileError fires for the same
  profile; silences and inhibition both hold across a restart.
* amtool adds, queries and expires a silence against linkwatch, and lists
  linkwatch's alerts.
"""
import json
import os
import subprocess
import time
import unittest
import urllib.request

from harness import (Agent, Receiver, StateDb, TempDirTest, free_port, http_get, iso, run_cli,
                     wait_for)

TOKEN = "test-token-1234"

# Entity alerts here do not look at the profile's state, so that only the
# inhibit rule can keep them quiet while the profile is in Error.
RULES = """
groups:
  - name: synapse-link
    rules:
      - alert: SyncStalled
        expr: syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        labels: {severity: critical}
        annotations:
          summary: "{{ entityname }} has not synced for {{ age(lastsynceddatatime) }}"
      - alert: ProfileError
        on: profile
        expr: profilestate in ["Error", "Suspended", "Aborted"]
        labels: {severity: critical}
"""


def api(method, url, body=None, token=TOKEN):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, json.loads(text) if text else None


class SilencesTest(TempDirTest):
    def start_agent(self):
        self.agent = Agent(self.config).start()
        self.defer(self.agent.stop)
        wait_for(lambda: http_get(self.base + "/readyz")[0] == 200, what="readyz")

    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.defer(self.receiver.close)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.write("rules/synapse.yaml", RULES)
        self.config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d, api_token: %s}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: hooks
    webhook: {url: %s}
route:
  receiver: hooks
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
inhibit_rules:
  - source_matchers: ['alertname="ProfileError"']
    target_matchers: ['severity!="none"']
    equal: [profile]
""" % (self.port, TOKEN, self.receiver.url))
        self.db = StateDb(os.path.join(self.dir, "state.db"))
        self.start_agent()
        self.db.add_profile("crm")
        self.db.add_profile("sales")
        for e in ("account", "contact", "opportunity"):
            self.db.add_entity("crm", e)
        self.db.add_entity("sales", "lead")

    def firing(self, entity):
        return self.receiver.has_alert("SyncStalled", "firing", entity=entity)

    def v2_alert(self, entity):
        code, alerts = api("GET", self.base + "/api/v2/alerts", token=None)
        self.assertEqual(code, 200)
        for a in alerts:
            if a["labels"].get("entity") == entity and a["labels"]["alertname"] == "SyncStalled":
                return a
        return None

    def stall(self, entity):
        self.db.set_entity(entity, lastsynceddatatime=iso(time.time() - 3600))

    def test_a_silence_mutes_until_it_expires_and_survives_a_restart(self):
        now = time.time()
        silence = {"matchers": [{"name": "entity", "value": "account", "isRegex": False}],
                   "startsAt": iso(now - 60), "endsAt": iso(now + 3600),
                   "createdBy": "it", "comment": "maintenance"}
        code, _ = api("POST", self.base + "/api/v1/silences", silence, token=None)
        self.assertEqual(code, 401, "mutations need the token")
        code, answer = api("POST", self.base + "/api/v1/silences", silence)
        self.assertEqual(code, 200, answer)
        sid = answer["silenceID"]
        # A matcher given as a string works too; this one silences contact.
        code, answer = api("POST", self.base + "/api/v1/silences",
                           dict(silence, matchers=['entity=~"cont.*"']))
        self.assertEqual(code, 200, answer)
        sid2 = answer["silenceID"]
        code, listed = api("GET", self.base + "/api/v1/silences", token=None)
        self.assertEqual(sorted(s["id"] for s in listed), sorted([sid, sid2]))
        self.assertEqual({s["status"]["state"] for s in listed}, {"active"})
        code, page = http_get(self.base + "/")
        self.assertIn('id="silence-%s"' % sid, page)
        self.assertIn("maintenance", page)
        self.assertIn("<td>hooks</td><td>webhook</td>", page)
        code, status = api("GET", self.base + "/api/v1/status", token=None)
        self.assertEqual(sorted(s["id"] for s in status["silences"]), sorted([sid, sid2]))
        self.assertEqual(status["receivers"][0]["name"], "hooks")

        self.stall("account")
        self.stall("opportunity")
        # opportunity's notification is the progress to wait on; account's
        # alert fires too but is silenced.
        wait_for(lambda: self.firing("opportunity"), what="opportunity notified")
        alert = wait_for(lambda: self.v2_alert("account"), what="account in /api/v2/alerts")
        self.assertEqual(alert["status"]["state"], "suppressed")
        self.assertEqual(alert["status"]["silencedBy"], [sid])
        self.assertEqual(alert["receivers"], [{"name": "hooks"}])
        self.assertFalse(self.firing("account"), "a silenced alert must not be notified")

        # Restart: the silences come back from the state store.
        self.assertEqual(self.agent.stop(), 0)
        self.start_agent()
        self.stall("contact")
        alert = wait_for(lambda: self.v2_alert("contact"), what="contact in /api/v2/alerts")
        self.assertEqual(alert["status"]["silencedBy"], [sid2])
        self.assertEqual(self.v2_alert("account")["status"]["silencedBy"], [sid])

        # Expiring the silence lets account's notification out.
        code, _ = api("DELETE", self.base + "/api/v1/silences/" + sid)
        self.assertEqual(code, 200)
        wait_for(lambda: self.firing("account"), what="account notified once unsilenced")
        self.assertFalse(self.firing("contact"))
        code, s = api("GET", self.base + "/api/v2/silence/" + sid, token=None)
        self.assertEqual(s["status"]["state"], "expired")
        code, _ = api("DELETE", self.base + "/api/v1/silences/" + sid)
        self.assertEqual(code, 400, "already expired")
        code, err = api("DELETE", self.base + "/api/v1/silences/nope")
        self.assertEqual(code, 404)
        self.assertIn("error", err)
        code, err = api("POST", self.base + "/api/v1/silences", dict(silence, matchers=[]))
        self.assertEqual(code, 400)
        self.assertIn("matcher", err["error"])

    def test_inhibition_mutes_entity_alerts_of_a_profile_in_error_across_a_restart(self):
        self.db.set_profile("crm", profilestate=2)
        wait_for(lambda: self.receiver.has_alert("ProfileError", "firing", profile="crm"),
                 what="ProfileError firing")
        self.stall("account")
        self.stall("lead")  # another profile: not inhibited
        wait_for(lambda: self.firing("lead"), what="lead notified")
        alert = wait_for(lambda: self.v2_alert("account"), what="account in /api/v2/alerts")
        self.assertEqual(alert["status"]["state"], "suppressed")
        self.assertEqual(len(alert["status"]["inhibitedBy"]), 1)
        self.assertFalse(self.firing("account"), "inhibited while ProfileError fires")
        code, alerts = api("GET", self.base + "/api/v2/alerts?inhibited=false", token=None)
        self.assertNotIn("account", [a["labels"].get("entity") for a in alerts])

        self.assertEqual(self.agent.stop(), 0)
        self.start_agent()
        self.stall("contact")
        alert = wait_for(lambda: self.v2_alert("contact"), what="contact in /api/v2/alerts")
        self.assertEqual(len(alert["status"]["inhibitedBy"]), 1)
        self.assertFalse(self.firing("account") or self.firing("contact"))

        # The profile recovers: the entity alerts go out.
        self.db.set_profile("crm", profilestate=1)
        wait_for(lambda: self.firing("account") and self.firing("contact"),
                 what="entity alerts notified once ProfileError resolved")

    def test_amtool_manages_silences_and_lists_alerts(self):
        http_config = self.write("amtool-http.yaml",
                                 "authorization:\n  credentials: %s\n" % TOKEN)

        def amtool(*args):
            p = subprocess.run(["amtool", "--alertmanager.url=" + self.base,
                                "--http.config.file=" + http_config] + list(args),
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, "amtool %s: %s%s" % (args, p.stdout, p.stderr))
            return p.stdout

        sid = amtool("silence", "add", "alertname=SyncStalled", 'entity=~"acc.*"',
                     "--comment=deploy", "--author=amtool-test", "--duration=2h").strip()
        self.assertRegex(sid, r"^[0-9a-f-]{36}$")
        listed = json.loads(amtool("silence", "query", "-o", "json"))
        self.assertEqual([s["id"] for s in listed], [sid])
        self.assertEqual(listed[0]["createdBy"], "amtool-test")
        matchers = {m["name"]: m for m in listed[0]["matchers"]}
        self.assertTrue(matchers["entity"]["isRegex"])
        self.assertEqual(matchers["entity"]["value"], "acc.*")
        # Filtered as Alertmanager does: against the silence's own matchers.
        self.assertEqual(amtool("silence", "query", "-q", "alertname=SyncStalled").split(), [sid])
        self.assertEqual(amtool("silence", "query", "-q", "alertname=ProfileError").split(), [])

        self.stall("account")
        self.stall("contact")
        wait_for(lambda: self.firing("contact"), what="contact notified")
        alerts = json.loads(amtool("alert", "query", "-o", "json", "alertname=SyncStalled"))
        by_entity = {a["labels"]["entity"]: a for a in alerts}
        self.assertEqual(by_entity["contact"]["status"]["state"], "active")
        self.assertNotIn("account", by_entity, "amtool alert query hides silenced alerts")
        alerts = json.loads(amtool("alert", "query", "-s", "-o", "json"))
        self.assertIn(sid, [s for a in alerts for s in a["status"]["silencedBy"]])

        amtool("silence", "expire", sid)
        self.assertEqual(amtool("silence", "query", "-q").split(), [])
        expired = json.loads(amtool("silence", "query", "--expired", "-o", "json"))
        self.assertEqual([s["status"]["state"] for s in expired], ["expired"])
        wait_for(lambda: self.firing("account"), what="account notified after amtool expire")

    def test_the_cli_adds_lists_and_expires_silences(self):
        rc, out, err = run_cli("silence", "add", "--config", self.config, 'entity="account"',
                               "alertname=SyncStalled", "--duration", "2h", "--comment", "deploy",
                               "--author", "cli-test")
        self.assertEqual(rc, 0, err)
        sid = out.strip()
        self.assertRegex(sid, r"^[0-9a-f-]{36}$")
        rc, out, err = run_cli("silence", "list", "--config", self.config)
        self.assertEqual(rc, 0, err)
        self.assertIn(sid, out)
        self.assertIn('entity="account" alertname="SyncStalled"', out)
        self.assertIn("cli-test", out)
        rc, out, err = run_cli("silence", "list", "--config", self.config, "--json")
        listed = json.loads(out)
        self.assertEqual(listed[0]["comment"], "deploy")
        ends = time.mktime(time.strptime(listed[0]["endsAt"][:19], "%Y-%m-%dT%H:%M:%S"))
        starts = time.mktime(time.strptime(listed[0]["startsAt"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertAlmostEqual(ends - starts, 7200, delta=2)

        self.stall("account")
        self.stall("contact")
        wait_for(lambda: self.firing("contact"), what="contact notified")
        self.assertEqual(self.v2_alert("account")["status"]["silencedBy"], [sid])

        rc, out, err = run_cli("silence", "expire", "--config", self.config, sid)
        self.assertEqual(rc, 0, err)
        wait_for(lambda: self.firing("account"), what="account notified after expire")
        rc, out, err = run_cli("silence", "list", "--config", self.config)
        self.assertNotIn(sid, out)
        rc, out, err = run_cli("silence", "list", "--config", self.config, "--expired")
        self.assertIn(sid, out)

        # Errors: a second expire, a bad matcher, no comment, a wrong token.
        rc, out, err = run_cli("silence", "expire", "--config", self.config, sid)
        self.assertEqual(rc, 1)
        self.assertIn("already expired", err)
        rc, out, err = run_cli("silence", "add", "--config", self.config, 'entity=~"("',
                               "--comment", "x")
        self.assertEqual(rc, 2)
        self.assertIn("bad regular expression", err)
        rc, out, err = run_cli("silence", "add", "--config", self.config, 'entity="a"')
        self.assertEqual(rc, 2)
        with open(self.config) as f:
            wrong = self.write("wrong.yaml", f.read().replace(TOKEN, "wrong-token"))
        rc, out, err = run_cli("silence", "add", "--config", wrong, 'entity="a"', "--comment", "x")
        self.assertEqual(rc, 1)
        self.assertIn("401", err)
        self.assertNotIn("wrong-token", err + out, "the token is never printed")


if __name__ == "__main__":
    unittest.main()
