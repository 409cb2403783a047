#include "agent/dataverse/odata_page.h"

#include <yajl/yajl_parse.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace linkwatch::dataverse {

const ODataValue* ODataRow::Find(std::string_view name) const {
  for (const ODataField& f : *this) {
    if (f.name == name) return &f.value;
  }
  return nullptr;
}

bool ODataRow::deleted() const {
  const ODataValue* context = Find("@odata.context");
  constexpr std::string_view kDeleted = "/$deletedEntity";
  return context != nullptr && context->kind == ODataValue::Kind::kString &&
         std::string_view(context->text).ends_with(kDeleted);
}

ODataField& ODataRow::Add() {
  if (size_ == fields_.size()) fields_.emplace_back();
  ODataField& f = fields_[size_++];
  f.name.clear();
  f.value.kind = ODataValue::Kind::kNull;
  f.value.text.clear();
  return f;
}

std::string ODataError::ToString() const {
  if (message.empty()) return code;
  if (code.empty()) return message;
  return message + " (" + code + ")";
}

std::optional<ODataError> ParseODataError(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto it = doc.find("error");
  if (it == doc.end() || !it->is_object()) return std::nullopt;
  ODataError e;
  if (auto c = it->find("code"); c != it->end() && c->is_string()) e.code = c->get<std::string>();
  if (auto m = it->find("message"); m != it->end() && m->is_string()) {
    e.message = m->get<std::string>();
  }
  if (e.code.empty() && e.message.empty()) return std::nullopt;
  return e;
}

// The parse as a small state machine over yajl's events. Depth 1 is the
// answer object, 2 the `value` array, 3 a row; anything nested deeper in a
// row is captured as JSON text for its field, anything nested in another
// top-level member is skipped (or, for `error`, captured and read at the
// end).
struct ODataPageParser::Impl {
  Impl(RowFn fn, ODataLimits l) : on_row(std::move(fn)), limits(l) {}

  RowFn on_row;
  ODataLimits limits;
  yajl_handle handle = nullptr;
  Status error;  // the first error; sticky
  ODataPageEnd end;
  ODataRow row;
  size_t row_bytes = 0;

  int depth = 0;          // containers open
  bool done = false;      // the answer object closed
  std::string top_key;    // the current member of the answer object
  bool in_value = false;  // inside `value`
  bool in_row = false;

  // Capture of a nested value (a row field's, or the error object) as JSON.
  int capture_depth = 0;  // containers open inside the capture; 0: none
  std::string* capture = nullptr;
  std::vector<bool> capture_first;  // per open container: nothing written yet
  bool capture_after_key = false;
  std::string error_json;  // the top-level `error` member
  int skip_depth = 0;      // containers open inside a skipped member
  // Where the chunk being parsed started, and that offset as of the last
  // row or member that ended: yajl buffers a token that spans chunks, so a
  // value that never ends is refused by its length in the input.
  size_t chunk_start = 0;
  size_t progress_at = 0;

  bool Fail(std::string message) {
    if (error.ok()) error = Status::Error(std::move(message));
    return false;
  }

  bool ChargeRow(size_t bytes) {
    row_bytes += bytes;
    if (row_bytes > limits.max_row_bytes) {
      return Fail("row " + std::to_string(end.rows + 1) + " is larger than " +
                  std::to_string(limits.max_row_bytes) + " bytes");
    }
    return true;
  }

  // A row's capture counts against the row; the error object has the same
  // limit of its own.
  bool ChargeCapture(size_t bytes) {
    if (in_row) return ChargeRow(bytes);
    if (capture->size() > limits.max_row_bytes) return Fail("the error object is too large");
    return true;
  }

  void CaptureSeparator() {
    if (capture_after_key) {
      capture_after_key = false;
      return;
    }
    if (!capture_first.back()) capture->push_back(',');
    capture_first.back() = false;
  }

  static void AppendQuoted(std::string& out, std::string_view s) {
    // yajl decodes escapes such as a lone surrogate into bytes that are no
    // UTF-8; they are replaced rather than thrown over.
    out += nlohmann::json(std::string(s))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // A scalar: `kind` and its text (strings decoded, numbers literal).
  bool Scalar(ODataValue::Kind kind, std::string_view text) {
    if (skip_depth > 0) return true;
    if (capture_depth > 0) {
      CaptureSeparator();
      if (kind == ODataValue::Kind::kString) {
        AppendQuoted(*capture, text);
      } else {
        capture->append(kind == ODataValue::Kind::kNull ? std::string_view("null") : text);
      }
      return ChargeCapture(text.size() + 1);
    }
    if (in_row) {
      ODataField& f = row.fields_[row.size_ - 1];
      f.value.kind = kind;
      f.value.text.assign(text);
      return ChargeRow(text.size());
    }
    if (in_value) return Fail("`value` holds something other than an object");
    if (depth == 0) return Fail("the answer is not a JSON object");
    // A member of the answer object.
    if (top_key == "@odata.nextLink" || top_key == "@odata.deltaLink" ||
        top_key == "@odata.context") {
      if (kind != ODataValue::Kind::kString) return Fail(top_key + " is not a string");
      if (text.size() > limits.max_row_bytes) return Fail(top_key + " is too long");
      (top_key == "@odata.context"    ? end.context
       : top_key == "@odata.nextLink" ? end.next_link
                                      : end.delta_link)
          .assign(text);
    } else if (top_key == "@odata.count") {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (kind != ODataValue::Kind::kNumber || ec != std::errc() ||
          p != text.data() + text.size()) {
        return Fail("@odata.count is not an integer");
      }
      end.count = n;
    } else if (top_key == "value") {
      return Fail("`value` is not an array");
    }
    return true;
  }

  bool StartContainer(bool is_map) {
    if (depth + 1 > limits.max_depth) {
      return Fail("nested deeper than " + std::to_string(limits.max_depth) + " levels");
    }
    ++depth;
    if (skip_depth > 0) {
      ++skip_depth;
      return true;
    }
    if (capture_depth > 0) {
      CaptureSeparator();
      capture->push_back(is_map ? '{' : '[');
      capture_first.push_back(true);
      ++capture_depth;
      return ChargeCapture(1);
    }
    if (depth == 1) {
      if (!is_map) return Fail("the answer is not a JSON object");
      return true;
    }
    if (depth == 2) {  // a member of the answer object
      if (top_key == "value") {
        if (is_map) return Fail("`value` is not an array");
        in_value = true;
        return true;
      }
      if (top_key == "error" && is_map) {
        capture = &error_json;
        capture->assign("{");
        capture_first.assign(1, true);
        capture_depth = 1;
        return true;
      }
      skip_depth = 1;
      return true;
    }
    if (depth == 3 && in_value) {  // a row
      if (!is_map) return Fail("`value` holds something other than an object");
      row.Clear();
      row_bytes = 0;
      in_row = true;
      return true;
    }
    // depth >= 4: a nested value of a row field
    capture = &row.fields_[row.size_ - 1].value.text;
    row.fields_[row.size_ - 1].value.kind = ODataValue::Kind::kJson;
    capture->assign(is_map ? "{" : "[");
    capture_first.assign(1, true);
    capture_depth = 1;
    return ChargeRow(1);
  }

  bool EndContainer(bool is_map) {
    --depth;
    if (skip_depth > 0) {
      --skip_depth;
      return true;
    }
    if (capture_depth > 0) {
      capture->push_back(is_map ? '}' : ']');
      capture_first.pop_back();
      --capture_depth;
      return ChargeCapture(1);
    }
    if (in_row && depth == 2) {
      in_row = false;
      progress_at = chunk_start;
      ++end.rows;
      if (on_row) {
        Status s = on_row(row);
        if (!s.ok()) {
          error = s.WithContext("row " + std::to_string(end.rows));
          return false;
        }
      }
      return true;
    }
    if (in_value && depth == 1) {
      in_value = false;
      return true;
    }
    if (depth == 0) done = true;
    return true;
  }

  bool Key(std::string_view key) {
    if (skip_depth > 0) return true;
    if (capture_depth > 0) {
      if (!capture_first.back()) capture->push_back(',');
      capture_first.back() = false;
      AppendQuoted(*capture, key);
      capture->push_back(':');
      capture_after_key = true;
      return ChargeCapture(key.size() + 3);
    }
    if (in_row) {
      if (row.size_ >= limits.max_fields) {
        return Fail("row " + std::to_string(end.rows + 1) + " has more than " +
                    std::to_string(limits.max_fields) + " fields");
      }
      row.Add().name.assign(key);
      return ChargeRow(key.size());
    }
    top_key.assign(key);
    progress_at = chunk_start;
    return true;
  }
};

namespace {

ODataPageParser::Impl& Of(void* ctx) { return *static_cast<ODataPageParser::Impl*>(ctx); }
std::string_view View(const unsigned char* s, size_t n) {
  return {reinterpret_cast<const char*>(s), n};
}

int OnNull(void* ctx) { return Of(ctx).Scalar(ODataValue::Kind::kNull, {}); }
int OnBool(void* ctx, int b) {
  return Of(ctx).Scalar(ODataValue::Kind::kBool, b ? "true" : "false");
}
int OnNumber(void* ctx, const char* s, size_t n) {
  return Of(ctx).Scalar(ODataValue::Kind::kNumber, {s, n});
}
int OnString(void* ctx, const unsigned char* s, size_t n) {
  return Of(ctx).Scalar(ODataValue::Kind::kString, View(s, n));
}
int OnStartMap(void* ctx) { return Of(ctx).StartContainer(true); }
int OnMapKey(void* ctx, const unsigned char* s, size_t n) { return Of(ctx).Key(View(s, n)); }
int OnEndMap(void* ctx) { return Of(ctx).EndContainer(true); }
int OnStartArray(void* ctx) { return Of(ctx).StartContainer(false); }
int OnEndArray(void* ctx) { return Of(ctx).EndContainer(false); }

const yajl_callbacks kCallbacks = {
    OnNull,     OnBool,   nullptr,  nullptr,      OnNumber,   OnString,
    OnStartMap, OnMapKey, OnEndMap, OnStartArray, OnEndArray,
};

// yajl's own message for a parse error, at `offset` bytes into the body.
std::string YajlError(yajl_handle h, size_t offset) {
  unsigned char* text = yajl_get_error(h, 0, nullptr, 0);
  std::string message = text != nullptr ? reinterpret_cast<const char*>(text) : "parse error";
  if (text != nullptr) yajl_free_error(h, text);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return "malformed JSON at byte " + std::to_string(offset) + ": " + message;
}

}  // namespace

ODataPageParser::ODataPageParser(RowFn on_row, ODataLimits limits)
    : impl_(std::make_unique<Impl>(std::move(on_row), limits)) {
  impl_->handle = yajl_alloc(&kCallbacks, nullptr, impl_.get());
}

ODataPageParser::~ODataPageParser() {
  if (impl_->handle != nullptr) yajl_free(impl_->handle);
}

Status ODataPageParser::Feed(std::string_view chunk) {
  Impl& p = *impl_;
  if (!p.error.ok()) return p.error;
  const size_t before = p.end.bytes;
  p.chunk_start = before;
  p.end.bytes += chunk.size();
  const yajl_status st =
      yajl_parse(p.handle, reinterpret_cast<const unsigned char*>(chunk.data()), chunk.size());
  if (st == yajl_status_ok) {
    if (p.end.bytes - p.progress_at > p.limits.max_row_bytes + chunk.size()) {
      p.error = Status::Error("no row ends within " + std::to_string(p.limits.max_row_bytes) +
                              " bytes (at byte " + std::to_string(p.end.bytes) + ")");
      return p.error;
    }
    return Status::Ok();
  }
  if (p.error.ok()) {
    // yajl counts the offending byte as consumed.
    const size_t consumed = yajl_get_bytes_consumed(p.handle);
    p.error = Status::Error(YajlError(p.handle, before + (consumed > 0 ? consumed - 1 : 0)));
  }
  return p.error;
}

Result<ODataPageEnd> ODataPageParser::Finish() {
  Impl& p = *impl_;
  if (!p.error.ok()) return p.error;
  if (!p.error_json.empty() && p.capture_depth == 0) {
    if (auto e = ParseODataError(R"({"error":)" + p.error_json + "}")) {
      return Status::Error("Dataverse answered an error: " + e->ToString());
    }
  }
  if (yajl_complete_parse(p.handle) != yajl_status_ok || !p.done) {
    if (!p.error.ok()) return p.error;
    return Status::Error("the answer ends early, after " + std::to_string(p.end.bytes) +
                         " bytes and " + std::to_string(p.end.rows) + " rows (cut short?)");
  }
  if (!p.error_json.empty()) {
    return Status::Error("Dataverse answered an unreadable error object");
  }
  return p.end;
}

}  // namespace linkwatch::dataverse
