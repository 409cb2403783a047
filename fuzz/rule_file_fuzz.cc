// libFuzzer target for rule files: LoadRuleString must either return groups
// or throw InputError, never crash. Whatever loads is evaluated once over an
// empty snapshot by a RuleEngine.
#include <prometheus/registry.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/core/problem.h"
#include "rules/rule_engine.h"
#include "rules/rule_file.h"
#include "rules/rules_metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto groups = linkwatch::LoadRuleString(text, "fuzz.yaml", linkwatch::Millis(15000));
    static prometheus::Registry registry;
    static linkwatch::RulesMetrics metrics(registry);
    linkwatch::RuleEngine engine(std::move(groups), nullptr, metrics);
    linkwatch::state::Snapshot empty;
    engine.Evaluate("fuzz", empty, 1.8e9, true);
  } catch (const linkwatch::InputError&) {
  }
  return 0;
}
