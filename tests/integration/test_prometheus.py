"""A real Prometheus (Debian `prometheus`) scrapes linkwatch's /metrics and
answers a query for linkwatch_entity_last_synced_timestamp_seconds; promtool
finds nothing to complain about in the exposition."""
import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.parse

from harness import (Agent, StateDb, TempDirTest, free_port, http_get, wait_for)

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


@unittest.skipUnless(PROMETHEUS and PROMTOOL, "Debian package prometheus is not installed")
class PrometheusScrapeTest(TempDirTest):
    def test_prometheus_scrapes_and_promtool_is_happy(self):
        port = free_port()
        config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: 1s}
""" % port)
        agent = Agent(config).start()
        self.defer(agent.stop)
        wait_for(lambda: http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200, what="ready")
        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm")
        synced = 1767225600  # 2026-01-01T00:00:00Z
        db.add_entity("crm", "account", synced=synced)
        db.add_entity("crm", "contact", synced=synced + 60)
        wait_for(lambda: "contact" in http_get("http://127.0.0.1:%d/metrics" % port)[1],
                 what="metrics with entities")

        code, text = http_get("http://127.0.0.1:%d/metrics" % port)
        self.assertEqual(code, 200)
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual((check.stdout + check.stderr).strip(), "")

        prom_port = free_port()
        prom_config = self.write("prometheus.yml", """
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: linkwatch
    static_configs: [{targets: ['127.0.0.1:%d']}]
""" % port)
        prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + prom_config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % prom_port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.defer(lambda: (prom.terminate(), prom.wait(10)))
        query = urllib.parse.quote('linkwatch_entity_last_synced_timestamp_seconds{entity="contact"}')

        def result():
            code, text = http_get("http://127.0.0.1:%d/api/v1/query?query=%s" % (prom_port, query))
            if code != 200:
                return None
            return json.loads(text)["data"]["result"]

        series = wait_for(result, timeout=60, interval=0.5, what="Prometheus query result")
        self.assertEqual(len(series), 1)
        self.assertEqual(series[0]["metric"]["profile"], "crm")
        self.assertEqual(series[0]["metric"]["source"], "local")
        self.assertEqual(float(series[0]["value"][1]), synced + 60)


if __name__ == "__main__":
    unittest.main()
