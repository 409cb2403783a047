#include "agent/core/problem.h"

#include <gtest/gtest.h>

#include "agent/core/yaml_util.h"

namespace linkwatch {
namespace {

TEST(ProblemTest, UnknownKeySuggestsNearest) {
  auto node = LoadYamlString("state_db: x\nwatchh: {}\n", "c.yaml");
  Problems p("c.yaml");
  CheckKeys(node, {"state_db", "watch", "http"}, p, "config");
  ASSERT_EQ(p.list().size(), 1u);
  EXPECT_EQ(p.list()[0].ToString(),
            "c.yaml:2:1: unknown key \"watchh\" in config (did you mean \"watch\"?)");
}

TEST(ProblemTest, SyntaxErrorHasPosition) {
  try {
    LoadYamlString("a: [1, 2\n", "bad.yaml");
    FAIL() << "no error";
  } catch (const InputError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(e.problems()[0].file, "bad.yaml");
    EXPECT_GT(e.problems()[0].line, 0);
  }
}

}  // namespace
}  // namespace linkwatch
