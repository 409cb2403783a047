// The Adaptive Cards the teams receiver posts, as the receiver got them,
// checked by Microsoft's Adaptive Cards library under node
// (tests/consumers/adaptive_cards.mjs; npm adaptivecards installed by
// `make consumers` into build/consumers). An integration test (ctest label
// integration): it needs node and that install, and fails saying so when
// either is missing, never skips.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "notifiers/notification.h"
#include "notifiers/notifier.h"
#include "tests/fakes/http_receiver.h"
#include "tests/notifiers/teams_fixture.h"

namespace linkwatch::notifiers {
namespace {

using nlohmann::json;

const char* const kScript = LINKWATCH_SOURCE_DIR "/tests/consumers/adaptive_cards.mjs";

struct NodeRun {
  int exit_code = -1;
  std::string output;
};

// node adaptive_cards.mjs FILE... with stdout and stderr together.
NodeRun CheckCards(const std::vector<std::string>& files) {
  std::string cmd = std::string("node '") + kScript + "'";
  for (const auto& f : files) cmd += " '" + f + "'";
  cmd += " 2>&1";
  NodeRun run;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) run.output.append(buf, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class TeamsCardsTest : public testutil::TeamsFixture {
 protected:
  void SetUp() override {
    const char* modules = std::getenv("LINKWATCH_NODE_MODULES");
    ASSERT_NE(modules, nullptr) << "LINKWATCH_NODE_MODULES is not set (ctest sets it to "
                                   "build/consumers/node_modules)";
    ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(modules) / "adaptivecards" / "dist" /
                                        "adaptivecards.js"))
        << "npm adaptivecards is not installed in " << modules
        << ": run `make consumers` (part of `make test`)";
    ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0)
        << "node is not installed: `make consumers` installs it";
  }

  // Posts `n` through a teams receiver (adaptive format) and writes the
  // request body the receiver got to `name`.json; returns the file.
  std::string CardFile(const std::string& name, const Notification& n) {
    auto teams = Build("      url: " + server_.Url("/workflow") + "\n");
    EXPECT_NE(teams, nullptr);
    if (teams == nullptr) return "";
    const SendResult r = teams->Send(n);
    EXPECT_TRUE(r.ok()) << r.reason << " " << r.detail;
    const std::string body = server_.Requests().back().body;
    std::cout << name << ": " << body.size() << " bytes\n";
    return Write(name, body);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string file = dir_.File(name + ".json");
    std::ofstream(file) << text;
    return file;
  }

  fakes::HttpReceiver server_;
};

TEST_F(TeamsCardsTest, EveryCardParsesWithoutWarnings) {
  Notification mixed = Group(3);
  mixed.alerts[2].state = AlertState::kResolved;
  Notification no_link = Group(2);
  no_link.external_url.clear();
  const std::vector<std::string> files = {
      CardFile("firing", Group(3)),    CardFile("resolved", Group(3, AlertState::kResolved)),
      CardFile("one_alert", Group(1)), CardFile("five_hundred_alerts", Group(500)),
      CardFile("mixed", mixed),        CardFile("no_link", no_link),
  };
  const NodeRun run = CheckCards(files);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("cards: 6 passed, 0 failed"), std::string::npos) << run.output;
  std::cout << run.output;
}

// The check itself: each kind of mistake fails the run and is named.
TEST_F(TeamsCardsTest, TheCheckCatchesBadCards) {
  const json good = json::parse(std::ifstream(CardFile("good", Group(2))));
  auto broken = [&](const std::string& name, const std::function<void(json&)>& change) {
    json j = good;
    change(j["attachments"][0]["content"]);
    return Write(name, j.dump());
  };
  const std::vector<std::string> files = {
      broken("unknown_element", [](json& c) { c["body"][2]["type"] = "FactTable"; }),
      broken("unknown_property", [](json& c) { c["body"][0]["colour"] = "Attention"; }),
      broken("bad_value", [](json& c) { c["body"][0]["color"] = "Red"; }),
      broken("teams_action", [](json& c) { c["actions"][0]["type"] = "Action.Submit"; }),
      broken("msteams", [](json& c) { c["msteams"]["width"] = "wide"; }),
  };
  const NodeRun run = CheckCards(files);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("cards: 0 passed, 5 failed"), std::string::npos) << run.output;
  for (const char* expected : {"unknown_element.json: parse: UnknownElementType",
                               "unknown_property.json: card.body[0].colour: not kept",
                               "bad_value.json: parse: InvalidPropertyValue",
                               "teams_action.json: card: Action.Submit does not work in Teams",
                               "msteams.json: card.msteams"}) {
    EXPECT_NE(run.output.find(expected), std::string::npos) << expected << "\n" << run.output;
  }
}

}  // namespace
}  // namespace linkwatch::notifiers
