// ODataPageParser: reads one page of an OData collection answer (the
// Dataverse Web API's `{"@odata.context": ..., "value": [rows...],
// "@odata.nextLink": ...}`) as it arrives, chunk by chunk, and hands over
// each row as soon as its closing brace is read. A page of 5,000 rows is
// never held whole, neither as text nor as a JSON tree: memory is one row
// plus the parser's buffer. Built on yajl's push parser (Debian libyajl-dev).
//
// Values keep the text they were sent as: a number's literal (a Decimal or
// BigInt never passes through a double), a string decoded, a nested object
// or array as compact JSON. A change-tracking delete row
// (`{"@odata.context": ".../$deletedEntity", "id": ..., "reason": ...}`) is
// a row like any other; ODataRow::deleted() tells it.
//
// Malformed JSON, a page that ends early, an answer that is not an object, a
// row beyond the limits, and an OData error object (`{"error": {"code",
// "message"}}`) are errors naming the byte offset or Dataverse's code; the
// parser stops at the first one. Not thread-safe; one parser per page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"

namespace linkwatch::dataverse {

struct ODataValue {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kJson };
  Kind kind = Kind::kNull;
  // kBool "true"/"false"; kNumber the literal; kString the decoded text;
  // kJson compact JSON of a nested object or array; kNull empty.
  std::string text;
};

struct ODataField {
  std::string name;
  ODataValue value;
};

// One row of `value`. The parser reuses it from row to row: valid only
// during the callback that receives it.
class ODataRow {
 public:
  // In the order sent; annotations (`@odata.etag`,
  // `x@OData.Community.Display.V1.FormattedValue`) included.
  const ODataField* begin() const { return fields_.data(); }
  const ODataField* end() const { return fields_.data() + size_; }
  size_t size() const { return size_; }
  // The first field named `name`, or nullptr.
  const ODataValue* Find(std::string_view name) const;
  // A change-tracking delete: its @odata.context ends in "/$deletedEntity".
  bool deleted() const;

 private:
  friend class ODataPageParser;
  ODataField& Add();
  void Clear() { size_ = 0; }
  std::vector<ODataField> fields_;  // [0, size_) are this row's; the rest keep capacity
  size_t size_ = 0;
};

// What a page says besides its rows.
struct ODataPageEnd {
  std::string context;           // @odata.context
  std::string next_link;         // @odata.nextLink: the next page, to be followed unchanged
  std::string delta_link;        // @odata.deltaLink: change tracking's cursor (last page only)
  std::optional<int64_t> count;  // @odata.count, when asked for
  size_t rows = 0;               // rows handed over
  size_t bytes = 0;              // body bytes read
};

// Dataverse's error answer `{"error": {"code": "0x80044352", "message": ...}}`.
struct ODataError {
  std::string code;
  std::string message;
  // "<message> (<code>)", or the code alone.
  std::string ToString() const;
};

// The error object of an answer body (any status), or nullopt when the body
// is not one (an HTML error page, empty, cut short).
std::optional<ODataError> ParseODataError(std::string_view body);

struct ODataLimits {
  // A row's text (names and values) beyond this is refused rather than
  // held: a hostile or broken answer cannot grow memory without bound.
  size_t max_row_bytes = 16 * 1024 * 1024;
  size_t max_fields = 10000;
  int max_depth = 64;  // nesting of objects and arrays
};

class ODataPageParser {
 public:
  // Receives each row; an error stops the parse and is Feed's answer.
  using RowFn = std::function<Status(const ODataRow&)>;

  explicit ODataPageParser(RowFn on_row, ODataLimits limits = {});
  ~ODataPageParser();
  ODataPageParser(const ODataPageParser&) = delete;
  ODataPageParser& operator=(const ODataPageParser&) = delete;

  // The next bytes of the body. After an error, every call returns it.
  Status Feed(std::string_view chunk);
  // The body has ended: the page's links and counts, or an error when it
  // is cut short, was not a page, or was an OData error object.
  Result<ODataPageEnd> Finish();

  struct Impl;  // yajl's callbacks reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace linkwatch::dataverse
