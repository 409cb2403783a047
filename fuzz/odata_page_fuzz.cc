// libFuzzer target for the OData page parser (agent/dataverse/odata_page.h),
// which reads every page a Dataverse environment (or anything posing as
// one) sends. Must never crash, hang or trip ASan/UBSan, and must not depend
// on how the body is cut into chunks: the input is parsed whole and again in
// chunks whose sizes come from its first bytes, and both must agree on
// success, rows and links. A nested value handed over as JSON text must read
// back, as a row's field, as the same text (JSON that nlohmann may still
// refuse: a number literal beyond a double is JSON, and kept as sent).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/dataverse/odata_page.h"

namespace {

using linkwatch::Status;
using namespace linkwatch::dataverse;

void CheckReadsBack(const std::string& json) {
  std::string again;
  ODataPageParser parser([&](const ODataRow& row) {
    if (row.size() != 1 || row.begin()->value.kind != ODataValue::Kind::kJson) std::abort();
    again = row.begin()->value.text;
    return Status::Ok();
  });
  if (!parser.Feed(R"({"value":[{"x":)" + json + "}]}").ok() || !parser.Finish().ok()) std::abort();
  if (again != json) std::abort();
}

struct Outcome {
  bool ok = false;
  std::vector<std::string> rows;  // each row's fields, flattened
  std::string next, delta;
};

Outcome Run(std::string_view body, std::string_view cuts) {
  Outcome out;
  ODataLimits limits;
  limits.max_row_bytes = 4096;
  limits.max_depth = 16;
  ODataPageParser parser(
      [&](const ODataRow& row) {
        std::string flat;
        for (const ODataField& f : row) {
          if (f.value.kind == ODataValue::Kind::kJson) CheckReadsBack(f.value.text);
          flat +=
              f.name + '\0' + std::to_string(static_cast<int>(f.value.kind)) + f.value.text + '\0';
        }
        out.rows.push_back(std::move(flat));
        return Status::Ok();
      },
      limits);
  size_t at = 0, i = 0;
  bool fed = true;
  while (at < body.size()) {
    size_t n =
        cuts.empty() ? body.size() : 1 + static_cast<unsigned char>(cuts[i++ % cuts.size()]) % 16;
    n = std::min(n, body.size() - at);
    if (!parser.Feed(body.substr(at, n)).ok()) {
      fed = false;
      break;
    }
    at += n;
  }
  if (!fed) return out;
  auto end = parser.Finish();
  if (!end.ok()) return out;
  out.ok = true;
  out.next = end->next_link;
  out.delta = end->delta_link;
  if (end->rows != out.rows.size()) std::abort();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view cuts = input.substr(0, std::min<size_t>(4, input.size()));
  const Outcome whole = Run(input, {});
  const Outcome chunked = Run(input, cuts);
  if (whole.ok != chunked.ok) std::abort();
  if (whole.ok &&
      (whole.rows != chunked.rows || whole.next != chunked.next || whole.delta != chunked.delta)) {
    std::abort();
  }
  return 0;
}
