"""End to end: a stalled table -> an email through a real SMTP server.

The real `build/linkwatch` binary sends to python3-aiosmtpd
(tests/fakes/smtp_server.py) on loopback: over STARTTLS with a certificate
this test makes (openssl req) and verifies through ca_file, with AUTH; and
against a server without STARTTLS, where the notification is dead-lettered
with a clear error and nothing goes out in clear text.
"""
import json
import os
import subprocess
import threading
import time
import unittest

from harness import ROOT, Agent, StateDb, TempDirTest, free_port, http_get, wait_for

FAKE = os.path.join(ROOT, "tests", "fakes", "smtp_server.py")
PASSWORD = "it-s3cret"

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
"""


class SmtpFake:
    """tests/fakes/smtp_server.py as a child process; its JSON events."""

    def __init__(self, log_path, *args):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE] + list(args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.events = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        ready = wait_for(lambda: self.of("ready"), timeout=20, what="the SMTP fake to listen")
        self.port = ready[0]["port"]

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.events.append(json.loads(line))

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e["event"] == kind]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(20)
        self.thread.join(5)
        self.proc.stdout.close()
        self.log.close()


class EmailEndToEndTest(TempDirTest):
    def make_cert(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", os.path.join(self.dir, "smtp.key"),
                        "-out", os.path.join(self.dir, "smtp.pem"), "-days", "1",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)

    def start(self, smtp):
        self.port = free_port()
        self.write("rules/synapse.yaml", RULES)
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: oncall-mail
    email:
      smarthost: 127.0.0.1:%d
      from: Linkwatch <linkwatch@example.com>
      to: [oncall@example.com, ops@example.org]
      username: linkwatch
      password: {env: LW_TEST_SMTP_PASSWORD}
      tls: starttls
      ca_file: smtp.pem
      hello: linkwatch.test
route:
  receiver: oncall-mail
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (self.port, smtp.port))
        self.agent = Agent(config, env={"LW_TEST_SMTP_PASSWORD": PASSWORD}).start()
        self.defer(self.agent.stop)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % self.port)[0] == 200,
                 what="readyz")
        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm")
        db.add_entity("crm", "account", synced=time.time() - 3600)

    def test_alert_mail_arrives_over_starttls_with_auth_to_every_recipient(self):
        self.make_cert()
        smtp = SmtpFake(os.path.join(self.dir, "smtp.log"),
                        "--tls", "starttls", "--cert", os.path.join(self.dir, "smtp.pem"),
                        "--key", os.path.join(self.dir, "smtp.key"),
                        "--auth", "linkwatch:" + PASSWORD)
        self.defer(smtp.close)
        self.start(smtp)

        message = wait_for(lambda: smtp.of("message"), what="the alert mail")[0]
        self.assertEqual(message["rcpt_tos"], ["oncall@example.com", "ops@example.org"])
        self.assertEqual(message["mail_from"], "linkwatch@example.com")
        self.assertTrue(message["tls"])
        self.assertEqual(message["login"], "linkwatch")
        self.assertEqual(message["defects"], [])
        headers = dict(message["headers"])
        for name in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version"):
            self.assertIn(name, headers)
        self.assertEqual(headers["Subject"], "[FIRING:1] SyncStalled account crm")
        self.assertEqual(headers["To"], "oncall@example.com, ops@example.org")
        self.assertEqual(headers["MIME-Version"], "1.0")
        self.assertRegex(headers["Message-ID"], r"^<[0-9a-f]{32}@example\.com>$")
        self.assertEqual(message["content_type"], "multipart/alternative")
        parts = {p["content_type"]: p["content"] for p in message["parts"]}
        self.assertEqual(sorted(parts), ["text/html", "text/plain"])
        for content in parts.values():
            self.assertIn("FIRING SyncStalled crm/account: account in crm has not synced for 1h",
                          content)
            self.assertIn("http://127.0.0.1:%d/#alert-" % self.port, content)
        self.assertEqual(smtp.of("command")[0]["arg"], "linkwatch.test")  # hello
        # Nothing but EHLO and STARTTLS before TLS was up.
        for c in smtp.of("command"):
            if c["verb"] not in ("EHLO", "STARTTLS"):
                self.assertTrue(c["tls"], c)
        self.assertNotIn(PASSWORD, self.agent.output())

    def test_server_without_starttls_gets_nothing_and_the_notification_is_dead(self):
        self.make_cert()
        smtp = SmtpFake(os.path.join(self.dir, "smtp.log"),
                        "--tls", "none", "--auth", "linkwatch:" + PASSWORD)
        self.defer(smtp.close)
        self.start(smtp)

        def dead():
            code, text = http_get(
                "http://127.0.0.1:%d/api/v1/notifications?state=dead" % self.port)
            return code == 200 and json.loads(text)

        letters = wait_for(dead, what="a dead letter")
        self.assertEqual(letters[0]["receiver"], "oncall-mail")
        self.assertIn("does not offer STARTTLS", letters[0]["lastError"])
        self.assertNotIn(PASSWORD, letters[0]["lastError"])
        wait_for(lambda: smtp.of("closed"), what="the connection to end")
        self.assertEqual([c["verb"] for c in smtp.of("command")], ["EHLO"])
        self.assertEqual(smtp.of("auth"), [])
        self.assertEqual(smtp.of("message"), [])
        self.assertIn("does not offer STARTTLS", self.agent.output())
        self.assertNotIn(PASSWORD, self.agent.output())


if __name__ == "__main__":
    unittest.main()
