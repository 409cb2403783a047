"""`linkwatch notify test --config F --receiver NAME` sends a clearly marked
test notification through the receiver's integration and prints the
provider's answer; no agent needs to run."""
import unittest

from harness import Receiver, TempDirTest, run_cli


class NotifyTestTest(TempDirTest):
    def config(self, url):
        return self.write("linkwatch.yaml", """
state_db: state.db
receivers:
  - name: hooks
    webhook: {url: '%s'}
  - name: console
    log: {}
route:
  receiver: hooks
""" % url)

    def test_delivers_a_marked_test_notification_and_prints_the_answer(self):
        receiver = Receiver()
        self.defer(receiver.close)
        config = self.config(receiver.url + "?token=s3cret")
        rc, out, err = run_cli("notify", "test", "--config", config, "--receiver", "hooks")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("receiver hooks (webhook): delivered: HTTP 200", out)
        self.assertNotIn("s3cret", out + err, "the URL may be a secret")
        body = receiver.bodies()[0]
        self.assertEqual(body["receiver"], "hooks")
        alert = body["alerts"][0]
        self.assertEqual(alert["labels"]["alertname"], "LinkwatchTest")
        self.assertIn("Test notification from linkwatch", alert["annotations"]["summary"])

    def test_a_failing_receiver_exits_1_with_the_reason(self):
        receiver = Receiver(status=503)
        self.defer(receiver.close)
        rc, out, err = run_cli("notify", "test", "--config", self.config(receiver.url),
                               "--receiver", "hooks")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("failed, the agent would retry (serverError): HTTP 503", out)
        receiver.status = 400
        rc, out, err = run_cli("notify", "test", "--config", self.config(receiver.url),
                               "--receiver", "hooks")
        self.assertEqual(rc, 1)
        self.assertIn("the agent would give up (clientError): HTTP 400", out)

    def test_an_unknown_receiver_is_bad_usage(self):
        rc, out, err = run_cli("notify", "test", "--config", self.config("http://127.0.0.1:9/"),
                               "--receiver", "pager")
        self.assertEqual(rc, 2)
        self.assertIn('no receiver "pager"', err)
        self.assertIn("receivers: hooks, console", err)


if __name__ == "__main__":
    unittest.main()
