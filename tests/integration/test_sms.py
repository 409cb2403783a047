"""End to end: a stalled table -> SMS through the real agent, via Twilio and ACS fakes.

One critical alert goes to two receivers: `twilio` (two recipients; the
second is rate limited once with Retry-After: 1) and `acs` (two recipients;
the 202 answer says the second failed with 500 once). Each retry goes only to
the recipient that failed (ACS: with its first repeatabilityRequestId), every
ACS request carries a valid signature (checked here with Python's hmac), the
failures are counted, and no secret reaches the log or the metrics.
"""
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from harness import (metric, Agent, StateDb, TempDirTest, free_port, http_get, wait_for)

RULES = """
groups:
  - name: synapse-link
    rules:
      - alert: SyncStalled
        expr: profile.profilestate == "Active" and syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        labels: {severity: critical}
        annotations:
          summary: "not synced for {{ age(lastsynceddatatime) }}"
"""

# The default text: one line per alert (the age grows while the test runs).
TEXT = r"^FIRING SyncStalled crm/account: not synced for 1h(\d+s)?$"
A, B = "+15550002222", "+15550003333"
TOKEN = "tw-s3cr3t-token"
ACS_KEY = b"linkwatch-integration-access-key"
ACS_KEY_B64 = base64.b64encode(ACS_KEY).decode()


class Fake:
    """A loopback HTTP server; `answer(path, headers, body)` -> (status, headers, body)."""

    def __init__(self, answer):
        self.requests = []  # (path, headers, body)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                with fake.lock:
                    fake.requests.append((self.path, dict(self.headers), body))
                    status, headers, text = answer(self.path, self.headers, body)
                data = text.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def twilio_answer():
    limited = []

    def answer(path, headers, body):
        to = parse_qs(body)["To"][0]
        if to == B and not limited:
            limited.append(1)
            return 429, {"Retry-After": "1"}, json.dumps(
                {"code": 20429, "message": "Too Many Requests",
                 "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429})
        return 201, {}, json.dumps({"sid": "SM%d" % len(body), "status": "queued"})
    return answer


def acs_signature_ok(headers, body, host):
    """The documented ACS scheme, computed independently of linkwatch."""
    content_hash = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    if headers.get("x-ms-content-sha256") != content_hash:
        return False
    to_sign = "POST\n/sms?api-version=2021-03-07\n%s;%s;%s" % (
        headers.get("x-ms-date"), host, content_hash)
    signature = base64.b64encode(
        hmac.new(ACS_KEY, to_sign.encode(), hashlib.sha256).digest()).decode()
    return headers.get("Authorization") == (
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + signature)


def acs_answer():
    failed = []

    def answer(path, headers, body):
        value = []
        for r in json.loads(body)["smsRecipients"]:
            ok = not (r["to"] == B and not failed)
            if not ok:
                failed.append(1)
            value.append({"to": r["to"], "messageId": "Outgoing_1",
                          "httpStatusCode": 202 if ok else 500, "successful": ok,
                          "errorMessage": None if ok else "Internal error"})
        return 202, {}, json.dumps({"value": value})
    return answer




class SmsEndToEndTest(TempDirTest):
    def test_twilio_and_acs_retry_only_the_failed_recipient(self):
        twilio = Fake(twilio_answer())
        acs = Fake(acs_answer())
        self.defer(twilio.close)
        self.defer(acs.close)
        port = free_port()
        self.write("rules/synapse.yaml", RULES)
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: console
    log: {}
  - name: twilio
    sms:
      provider: twilio
      account_sid: AC0123
      auth_token: {env: TWILIO_TOKEN}
      from: "+15550001111"
      base_url: http://127.0.0.1:%d
      to: ["%s", "%s"]
  - name: acs
    sms:
      provider: acs
      connection_string: {env: ACS_CONNECTION_STRING}
      from: "+18005550000"
      to: ["%s", "%s"]
route:
  receiver: console
  group_by: [alertname, profile]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
  routes:
    - {matchers: ['severity="critical"'], receiver: twilio, continue: true}
    - {matchers: ['severity="critical"'], receiver: acs, continue: true}
""" % (port, twilio.port, A, B, A, B))
        env = {"TWILIO_TOKEN": TOKEN,
               "ACS_CONNECTION_STRING": "endpoint=http://127.0.0.1:%d/;accesskey=%s" % (
                   acs.port, ACS_KEY_B64)}
        agent = Agent(config, env=env).start()
        self.defer(agent.stop)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="readyz")
        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm")
        db.add_entity("crm", "account", synced=time.time() - 3600)

        wait_for(lambda: len(twilio.seen()) >= 3, what="twilio: A, B (429), B again")
        wait_for(lambda: len(acs.seen()) >= 2, what="acs: A and B, then B again")

        posts = twilio.seen()
        self.assertEqual([parse_qs(b)["To"][0] for _, _, b in posts], [A, B, B])
        for path, headers, body in posts:
            self.assertEqual(path, "/2010-04-01/Accounts/AC0123/Messages.json")
            self.assertEqual(headers["Authorization"],
                             "Basic " + base64.b64encode(("AC0123:" + TOKEN).encode()).decode())
            form = parse_qs(body)
            self.assertEqual(form["From"], ["+15550001111"])
            self.assertRegex(form["Body"][0], TEXT)
        self.assertEqual(len({parse_qs(b)["Body"][0] for _, _, b in posts}), 1, "one text")

        first, retry = acs.seen()[:2]
        host = "127.0.0.1:%d" % acs.port
        for path, headers, body in (first, retry):
            self.assertEqual(path, "/sms?api-version=2021-03-07")
            self.assertEqual(headers["Host"], host)
            self.assertTrue(acs_signature_ok(headers, body, host), headers)
        first_to = {r["to"]: r for r in json.loads(first[2])["smsRecipients"]}
        retry_to = {r["to"]: r for r in json.loads(retry[2])["smsRecipients"]}
        self.assertEqual(sorted(first_to), [A, B])
        self.assertEqual(list(retry_to), [B])
        self.assertEqual(retry_to[B], first_to[B], "same repeatabilityRequestId and FirstSent")
        self.assertRegex(json.loads(first[2])["message"], TEXT)

        def counted():
            _, text = http_get("http://127.0.0.1:%d/metrics" % port)
            return (metric(text, "linkwatch_notifications_total", receiver="twilio") == 1.0 and
                    metric(text, "linkwatch_notifications_total", receiver="acs") == 1.0)
        wait_for(counted, what="both delivered")
        _, metrics = http_get("http://127.0.0.1:%d/metrics" % port)
        self.assertEqual(metric(metrics, "linkwatch_notifications_failed_total", receiver="twilio",
                                integration="sms", reason="rateLimited"), 1.0)
        self.assertEqual(metric(metrics, "linkwatch_notifications_failed_total", receiver="acs",
                                integration="sms", reason="serverError"), 1.0)
        for secret in (TOKEN, ACS_KEY_B64, A, B):
            self.assertNotIn(secret, metrics)
        agent.stop()
        out = agent.output()
        self.assertNotIn(TOKEN, out)
        self.assertNotIn(ACS_KEY_B64, out)


if __name__ == "__main__":
    unittest.main()
