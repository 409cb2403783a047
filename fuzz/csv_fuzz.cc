// libFuzzer target for the lake's CSV reader (csv_reader.h). Reads the input
// as a buffer and, for the same bytes, as a stream handed over in small
// chunks into a small, growing buffer: both must give the same records,
// lines and error. What parses must survive a round trip: written back with
// quotes where needed, it must read back as the same records. Must never
// crash, hang or trip ASan/UBSan.
//
// Input: CSV bytes; the first byte also picks the chunk and block sizes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sync/destinations/csv_reader.h"

namespace {

using linkwatch::sync::CsvReader;

struct Parsed {
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> lines;
  std::vector<std::vector<bool>> quoted;  // per field: "" (empty string) versus NULL
  std::string error;
  bool unterminated = false;
  int64_t crlf = 0, lf = 0;
  bool operator==(const Parsed&) const = default;
};

Parsed ReadAll(CsvReader& reader) {
  Parsed p;
  while (true) {
    auto more = reader.Next();
    if (!more) {
      p.error = more.message();
      break;
    }
    if (!*more) break;
    p.records.emplace_back(reader.fields().begin(), reader.fields().end());
    p.lines.push_back(reader.line());
    p.quoted.emplace_back();
    for (size_t i = 0; i < reader.fields().size(); ++i) p.quoted.back().push_back(reader.quoted(i));
  }
  p.unterminated = reader.last_record_unterminated();
  p.crlf = reader.crlf_records();
  p.lf = reader.lf_records();
  return p;
}

std::string Write(const std::vector<std::vector<std::string>>& records) {
  std::string out;
  for (const auto& r : records) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (i) out += ',';
      if (r[i].find_first_of(",\"\r\n") == std::string::npos) {
        out += r[i];
        continue;
      }
      out += '"';
      for (char c : r[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += '\n';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CsvReader whole(input, "fuzz.csv");
  const Parsed a = ReadAll(whole);

  const size_t pick = size ? data[0] : 0;
  auto stream = CsvReader::FromChunks(input, "fuzz.csv", 1 + pick % 7, 1 + (pick >> 3) % 16);
  const Parsed b = ReadAll(*stream);
  if (!(a == b)) __builtin_trap();

  if (a.error.empty()) {
    const std::string again = Write(a.records);
    CsvReader reread(again, "again.csv");
    const Parsed c = ReadAll(reread);
    if (!c.error.empty() || c.records != a.records) __builtin_trap();
  }
  return 0;
}
