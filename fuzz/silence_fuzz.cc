// libFuzzer target for the silence bodies the HTTP API accepts (POST
// /api/v1/silences, /api/v2/silences: Alertmanager's postableSilence, with
// matchers as objects or as matcher strings). For what is accepted, the
// answer's form (SilenceToJson, also what the state store keeps) must read
// back as the same silence: the same matchers, exactly, whatever bytes their
// values hold (they are stored structured, never as text to parse again).
// Must never crash, hang or trip ASan/UBSan.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "notifiers/silences.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace linkwatch::notifiers;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  auto silence = SilenceFromJson(body);
  if (!silence.ok()) return 0;
  if (silence->matchers.empty()) std::abort();  // validation lets none through
  const nlohmann::json shown = SilenceToJson(*silence, silence->starts_at);
  // The answer is valid JSON text (values may hold any bytes: replaced).
  const std::string dumped = shown.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (nlohmann::json::parse(dumped, nullptr, false).is_discarded()) std::abort();
  auto again = SilenceFromJson(shown);
  if (!again.ok()) std::abort();
  if (again->matchers.size() != silence->matchers.size()) std::abort();
  for (size_t i = 0; i < silence->matchers.size(); ++i) {
    const Matcher& a = silence->matchers[i];
    const Matcher& b = again->matchers[i];
    if (a.name() != b.name() || a.op() != b.op() || a.value() != b.value()) std::abort();
  }
  if (again->created_by != silence->created_by || again->comment != silence->comment) {
    std::abort();
  }
  linkwatch::LabelSet labels;
  for (const auto& m : silence->matchers) labels[m.name()] = m.value();
  (void)silence->Matches(labels);
  return 0;
}
