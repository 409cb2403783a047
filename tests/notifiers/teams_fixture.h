// A Teams receiver built from YAML as the config loader builds it, and the
// alert groups its tests send (teams_test.cc, teams_cards_test.cc).
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "agent/core/yaml_util.h"
#include "notifiers/receivers.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers::testutil {

class TeamsFixture : public ::testing::Test {
 protected:
  // The receivers list holds one receiver "oncall" with `teams: {<keys>}`;
  // the problems go to `problems_`.
  std::vector<ReceiverConfig> Parse(const std::string& keys) {
    const std::string yaml = "receivers:\n  - name: oncall\n    teams:\n" + keys;
    YAML::Node root = LoadYamlString(yaml, "config.yaml");
    return ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems_,
                          clock_);
  }

  // A receiver that must load without problems.
  std::shared_ptr<Notifier> Build(const std::string& keys) {
    auto rs = Parse(keys);
    std::string all;
    for (const auto& p : problems_.list()) all += p.ToString() + "\n";
    EXPECT_TRUE(problems_.empty()) << all;
    return rs.size() == 1 ? rs[0].notifier : nullptr;
  }

  // `alerts` alerts of the group {alertname="SyncStalled", profile="crm"},
  // entities t0, t1, ..., each with a summary.
  Notification Group(int alerts, AlertState state = AlertState::kFiring) {
    Notification n;
    n.receiver = "oncall";
    n.group_labels = {{"alertname", "SyncStalled"}, {"profile", "crm"}};
    n.group_key = "{}:{alertname=\"SyncStalled\", profile=\"crm\"}";
    n.external_url = "http://127.0.0.1:9464/";
    const double now = ToEpochSeconds(clock_.Now());
    n.created_at = now;
    for (int i = 0; i < alerts; ++i) {
      const std::string entity = "t" + std::to_string(i);
      Alert a = MakeAlert({{"alertname", "SyncStalled"},
                           {"profile", "crm"},
                           {"entity", entity},
                           {"severity", "warning"}},
                          state, now - 1260, state == AlertState::kResolved ? now : 0);
      a.annotations["summary"] = entity + " not synced for 21m";
      n.alerts.push_back(std::move(a));
    }
    return n;
  }

  TempDir dir_;
  ManualClock clock_{T0()};
  Problems problems_{"config.yaml"};
};

}  // namespace linkwatch::notifiers::testutil
