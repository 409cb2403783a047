"""SIGHUP reloads rules, receivers and routes all-or-nothing; SIGTERM stops
gracefully with exit code 0."""
import os
import signal
import time
import unittest

from harness import Agent, Receiver, StateDb, TempDirTest, free_port, http_get, wait_for

RULE = """groups:
  - name: g
    rules:
      - alert: %s
        on: profile
        expr: profilestate == "Error"
"""


class ReloadTest(TempDirTest):
    def test_sighup_applies_valid_config_and_keeps_old_on_invalid(self):
        receiver = Receiver()
        self.defer(receiver.close)
        port = free_port()
        rules = self.write("rules.yaml", RULE % "First")
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: 500ms, rule_files: [rules.yaml]}
receivers: [{name: hooks, webhook: {url: %s}}]
route: {receiver: hooks, group_wait: 0s, group_interval: 500ms}
""" % (port, receiver.url))
        agent = Agent(config).start()
        self.defer(agent.kill)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="ready")
        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm", state=2)
        wait_for(lambda: receiver.has_alert("First", "firing"), what="First firing")

        # An invalid rule file: the reload is refused and the old rules keep working.
        self.write("rules.yaml", RULE.replace('"Error"', '"Broken"') % "Second")
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in agent.output(), what="reload failure logged")
        self.assertIn("rules.yaml:6:", agent.output())
        db.add_profile("erp", state=2)
        wait_for(lambda: receiver.has_alert("First", "firing", profile="erp"),
                 what="old rules still evaluated")

        # A valid one: the new rule takes over; the old alerts resolve.
        self.write("rules.yaml", RULE % "Second")
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: receiver.has_alert("Second", "firing", profile="crm"),
                 what="new rule fires after reload")
        wait_for(lambda: receiver.has_alert("First", "resolved", profile="crm"),
                 what="removed rule's alert resolves")
        self.assertEqual(agent.stop(), 0)
        self.assertIn("stopped", agent.output())


if __name__ == "__main__":
    unittest.main()
