"""End to end: a stalled table -> Teams Adaptive Cards through the real agent.

A local Teams fake (a Workflows URL whose path is the secret) first answers
as a throttled legacy connector does (200 with "HTTP error 429" in the body),
then 202: the outbox retries, the card arrives once, red, and the failure is
counted as rateLimited. Fixing the row sends the green resolved card. The
URL (a secret) appears neither in the log nor in the metrics.
"""
import json
import os
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import (metric, Agent, StateDb, TempDirTest, free_port, http_get, iso, wait_for)

RULES = """
groups:
  - name: synapse-link
    rules:
      - alert: SyncStalled
        expr: profile.profilestate == "Active" and syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        labels: {severity: critical}
        annotations:
          summary: "{{ entityname }} in {{ profile }} has not synced for {{ age(lastsynceddatatime) }}"
"""

SECRET_PATH = "/workflows/s3cr3t-t0ken/triggers/manual/run"
THROTTLED = ("Webhook message delivery failed with error: Microsoft Teams endpoint returned "
             "HTTP error 429 with ContextId tcid=0,server=msgapi-production")


class TeamsFake:
    """Answers each POST with the next scripted (status, body), then 202."""

    def __init__(self, script):
        self.script = list(script)
        self.posts = []  # (status answered, parsed body)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with fake.lock:
                    status, text = fake.script.pop(0) if fake.script else (202, "")
                    fake.posts.append((status, self.path, self.headers.get("Content-Type"),
                                       json.loads(body)))
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d%s" % (self.server.server_address[1], SECRET_PATH)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self):
        with self.lock:
            return [p for p in self.posts if p[0] == 202]

    def cards(self):
        return [p[3]["attachments"][0]["content"] for p in self.delivered()]

    def close(self):
        self.server.shutdown()
        self.server.server_close()




class TeamsEndToEndTest(TempDirTest):
    def test_throttled_then_delivered_then_resolved(self):
        teams = TeamsFake([(200, THROTTLED)])
        self.defer(teams.close)
        port = free_port()
        self.write("rules/synapse.yaml", RULES)
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: oncall
    teams: {url: {env: TEAMS_WEBHOOK_URL}}
route:
  receiver: oncall
  group_by: [alertname, profile]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % port)
        agent = Agent(config, env={"TEAMS_WEBHOOK_URL": teams.url}).start()
        self.defer(agent.stop)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="readyz")
        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm")
        db.add_entity("crm", "account", synced=time.time() - 3600)

        wait_for(lambda: teams.cards(), what="the firing card")
        with teams.lock:
            first, second = teams.posts[0], teams.posts[1]
        self.assertEqual(first[0], 200)  # throttled, then retried
        self.assertEqual(first[3], second[3], "the retry sends the same card")
        self.assertEqual(second[1], SECRET_PATH)
        self.assertEqual(second[2], "application/json")
        card = teams.cards()[0]
        self.assertEqual(card["type"], "AdaptiveCard")
        self.assertEqual(card["body"][0]["text"], "[FIRING:1] SyncStalled crm")
        self.assertEqual(card["body"][0]["color"], "Attention")
        self.assertIn("account in crm has not synced for 1h", card["body"][1]["text"])
        facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
        self.assertEqual(facts["profile"], "crm")
        self.assertEqual(facts["entity"], "account")
        self.assertEqual(card["actions"][0]["url"], "http://127.0.0.1:%d/" % port)

        code, metrics = http_get("http://127.0.0.1:%d/metrics" % port)
        self.assertEqual(code, 200)
        self.assertEqual(metric(metrics, "linkwatch_notifications_failed_total", receiver="oncall",
                                integration="teams", reason="rateLimited"), 1.0)

        # Fixed: the resolved card, green.
        db.set_entity("account", lastsynceddatatime=iso(time.time()))
        wait_for(lambda: len(teams.cards()) >= 2, what="the resolved card")
        resolved = teams.cards()[-1]
        self.assertEqual(resolved["body"][0]["text"], "[RESOLVED] SyncStalled crm")
        self.assertEqual(resolved["body"][0]["color"], "Good")

        _, metrics = http_get("http://127.0.0.1:%d/metrics" % port)
        self.assertNotIn("s3cr3t-t0ken", metrics)
        agent.stop()
        self.assertNotIn("s3cr3t-t0ken", agent.output())


if __name__ == "__main__":
    unittest.main()
