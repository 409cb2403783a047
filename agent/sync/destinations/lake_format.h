// The text forms of lake-format.md: CSV fields, the three datetime formats,
// partition names, Ids and values of a SQLite source. Pure functions over
// values; thread-safe. The lake writer and only it renders rows; the
// independent reader (lake_verify) parses them.
//
// A value that cannot be written as its attribute's CDM type (a datetime
// column holding "maybe", a GUID column holding "r000", a decimal out of its
// declared range) is never written changed or "as is": the render functions
// return why (a short, static reason) and the writer makes the row a failed
// record (docs/sync.md "Failed records").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/sync/destination.h"
#include "agent/sync/source.h"

namespace linkwatch::sync::lake {

// Why a value cannot be written: nullptr when it was. Static text, so that
// rendering a million rows allocates nothing for it.
using RenderError = const char*;

// What rendering met, added up over a batch.
struct RenderStats {
  int64_t invalid_text = 0;  // texts with at least one ill-formed UTF-8 sequence
};

// RFC 4180: quoted (with doubled quotes) when the text holds a comma, a
// quote, CR or LF, or is empty (`""`: an empty string, where an empty
// unquoted field is NULL); as is otherwise. The text must be valid UTF-8.
void AppendCsvField(std::string& out, std::string_view text);
// `fields` (strings or string_views) as one record: AppendCsvField each,
// separated by commas, ended by LF.
template <typename Fields>
void AppendCsvRecord(std::string& out, const Fields& fields) {
  bool first = true;
  for (const auto& f : fields) {
    if (!std::exchange(first, false)) out += ',';
    AppendCsvField(out, f);
  }
  out += '\n';
}
// Appends `text` with each ill-formed UTF-8 sequence replaced by U+FFFD
// (one per maximal subpart, Unicode's recommended practice); returns how
// many were replaced. ASCII goes through a word-at-a-time fast path.
size_t AppendUtf8(std::string& out, std::string_view text);
// A text value as a CSV field: AppendUtf8, quoted as AppendCsvField. Counts
// a text that needed replacements in `stats`.
void AppendTextField(std::string& out, std::string_view text, RenderStats& stats);
// Whether `text` is valid UTF-8.
bool IsValidUtf8(std::string_view text);

// A datetime as the lake writes it: whole seconds and 100 ns ticks.
struct LakeTime {
  int64_t seconds = 0;  // since the epoch, UTC
  int32_t ticks = 0;    // 0 .. 9'999'999
};
// "6/28/2021 4:34:35 PM" (SinkCreatedOn, SinkModifiedOn).
void AppendSinkTime(std::string& out, double epoch_seconds);
// "2021-06-28T16:34:35.0000000+00:00" (createdon).
void AppendCreatedOnTime(std::string& out, double epoch_seconds);
void AppendCreatedOnTime(std::string& out, LakeTime t);
// "2021-06-28T16:34:35Z" (every other datetime), with ".fffffff" (up to 7
// digits, trailing zeros dropped) when it has fractional seconds.
void AppendIsoTime(std::string& out, double epoch_seconds);
void AppendIsoTime(std::string& out, LakeTime t);

// "2021" or "2021-06".
std::string PartitionName(double epoch_seconds, Partitioning partitioning);

// A datetime value of a SQLite source: ISO-8601 text or Unix seconds, in
// years 1 to 9999. Text keeps its own fraction digits (truncated to 7, never
// rounded across a second); REAL Unix seconds keep microseconds.
std::optional<LakeTime> LakeTimeOf(const Value& v);
// The same as epoch seconds (partitioning only needs the day).
std::optional<double> DateTimeOf(const Value& v);

// Whether `s` is a GUID ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", hex digits).
bool IsGuid(std::string_view s);

// The lake's Id of a key (lake-format.md "Rows from a SQLite source"): a key
// column of a GUID type in canonical lower case (the text in one case, lower
// or upper: a mixed-case GUID is refused, see KeyTwins); any other key as the
// source holds it: integers in decimal, reals in their shortest form, text
// as is, bytes as base64. On an error `out` still holds a printable form of
// the key (for the failed record).
RenderError RenderId(const Value& key, const SourceColumn& column, std::string& out);

// The other source keys that RenderId would render as the same Id as `key`
// (whose Id is `id`): the other case of a GUID, an integer 1 for a text '1',
// a blob whose base64 is the text, ... If any of them exists in the source,
// the rows collide and neither may be written.
void KeyTwins(const Value& key, const SourceColumn& column, std::string_view id,
              std::vector<StoredValue>& out);

// One source value as its CSV field (already quoted if needed) in its
// attribute's type: datetimes in the lake's formats (`createdon` with its
// own), booleans True/False, decimals in plain notation within the declared
// precision and scale, doubles in their shortest exact form, GUIDs in lower
// case, bytes base64, text as valid UTF-8, empty text `""`, null empty. A
// value that cannot be written so returns why and appends nothing.
RenderError AppendValue(std::string& out, const SourceColumn& column, const Value& v,
                        bool is_createdon, RenderStats& stats);

// The precision and scale a declared type gives a decimal ("DECIMAL(18,4)",
// "NUMERIC(10)" → scale 0); 38 and 10 when it declares none.
void DecimalShape(std::string_view declared_type, int& precision, int& scale);

}  // namespace linkwatch::sync::lake
