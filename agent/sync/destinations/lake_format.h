// The text forms of lake-format.md: CSV fields, the three datetime formats,
// partition names, Ids and values of a SQLite source. Pure functions over
// values; thread-safe. The lake writer and only it renders rows; the
// independent reader (lake_verify) parses them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/sync/destination.h"
#include "agent/sync/source.h"

namespace linkwatch::sync::lake {

// RFC 4180: quoted (with doubled quotes) when the text holds a comma, a
// quote, CR or LF; as is otherwise.
void AppendCsvField(std::string& out, std::string_view text);

// "6/28/2021 4:34:35 PM" (SinkCreatedOn, SinkModifiedOn).
void AppendSinkTime(std::string& out, double epoch_seconds);
// "2021-06-28T16:34:35.0000000+00:00" (createdon).
void AppendCreatedOnTime(std::string& out, double epoch_seconds);
// "2021-06-28T16:34:35Z" (every other datetime).
void AppendIsoTime(std::string& out, double epoch_seconds);

// "2021" or "2021-06".
std::string PartitionName(double epoch_seconds, Partitioning partitioning);

// The lake's Id of a key: integers in decimal, text as is with GUIDs in
// lower case, bytes as base64.
std::string RenderId(const Value& key);

// A datetime value of a SQLite source: ISO-8601 text or Unix seconds.
std::optional<double> DateTimeOf(const Value& v);

// One source value as its CSV field (already quoted if needed): datetimes in
// the lake's formats (`createdon` with its own), booleans True/False, bytes
// base64, numbers in their shortest exact form, null empty. A datetime text
// that does not parse is written as it is rather than lost.
void AppendValue(std::string& out, const SourceColumn& column, const Value& v, bool is_createdon);

}  // namespace linkwatch::sync::lake
