#include "agent/sync/destinations/csv_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace linkwatch::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Records = std::vector<std::vector<std::string>>;

// Everything a reader gives: the records with their lines, or the error.
struct Parsed {
  Records records;
  std::vector<int64_t> lines;
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
      EXPECT_FALSE(*reader.Next()) << "a failed reader stays at the end";
      break;
    }
    if (!*more) break;
    p.records.emplace_back(reader.fields().begin(), reader.fields().end());
    p.lines.push_back(reader.line());
  }
  p.unterminated = reader.last_record_unterminated();
  p.crlf = reader.crlf_records();
  p.lf = reader.lf_records();
  return p;
}

Parsed Read(std::string_view text) {
  CsvReader reader(text, "t.csv");
  return ReadAll(reader);
}

TEST(CsvReaderTest, ReadsPlainRecordsWithLfOrCrlf) {
  Parsed p = Read("a,b,c\n1,2,3\r\n");
  EXPECT_EQ(p.records, (Records{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_THAT(p.lines, ElementsAre(1, 2));
  EXPECT_EQ(p.lf, 1);
  EXPECT_EQ(p.crlf, 1);
  EXPECT_FALSE(p.unterminated);
  EXPECT_EQ(p.error, "");
}

TEST(CsvReaderTest, EmptyInputHasNoRecords) {
  Parsed p = Read("");
  EXPECT_TRUE(p.records.empty());
  EXPECT_EQ(p.error, "");
  EXPECT_FALSE(p.unterminated);
}

TEST(CsvReaderTest, EmptyFieldsTrailingCommaAndBlankLines) {
  Parsed p = Read(",\na,,\n\n\"\"\n");
  EXPECT_EQ(p.records, (Records{{"", ""}, {"a", "", ""}, {""}, {""}}));
  EXPECT_THAT(p.lines, ElementsAre(1, 2, 3, 4));
}

TEST(CsvReaderTest, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  Parsed p =
      Read("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\nlf\",\"\"\"\"\nnext,\"x\"\r\n");
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.records,
            (Records{{"a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", "\""}, {"next", "x"}}));
  // The first record spans lines 1-3, so the next one starts on line 4.
  EXPECT_THAT(p.lines, ElementsAre(1, 4));
}

TEST(CsvReaderTest, PassesUtf8Through) {
  Parsed p = Read("Zoë,\"Müller, Straße\",日本\n");
  EXPECT_EQ(p.records, (Records{{"Zoë", "Müller, Straße", "日本"}}));
}

TEST(CsvReaderTest, LastRecordMayEndWithoutLineBreak) {
  Parsed p = Read("a,b\nc,\"d\"");
  EXPECT_EQ(p.records, (Records{{"a", "b"}, {"c", "d"}}));
  EXPECT_TRUE(p.unterminated);
  p = Read("a,b\nc,");
  EXPECT_EQ(p.records, (Records{{"a", "b"}, {"c", ""}}));
  EXPECT_TRUE(p.unterminated);
}

TEST(CsvReaderTest, QuoteInsideAnUnquotedFieldIsAnErrorNamingFileAndLine) {
  Parsed p = Read("a,b\nc,d\"e\nf\n");
  EXPECT_EQ(p.records, (Records{{"a", "b"}}));
  EXPECT_EQ(p.error, "t.csv:2: quote inside unquoted field 2");
}

TEST(CsvReaderTest, TextAfterAClosingQuoteIsAnError) {
  EXPECT_EQ(Read("\"a\"b\n").error, "t.csv:1: text after the closing quote of field 1");
  EXPECT_EQ(Read("x\n\"multi\nline\" ,y\n").error,
            "t.csv:3: text after the closing quote of field 1");
  EXPECT_EQ(Read("\"a\"\rb\n").error, "t.csv:1: text after the closing quote of field 1");
}

TEST(CsvReaderTest, UnterminatedQuotedFieldIsAnErrorAtItsOpeningLine) {
  Parsed p = Read("ok\nx,\"never\nclosed\n");
  EXPECT_EQ(p.records, (Records{{"ok"}}));
  EXPECT_EQ(p.error, "t.csv:2: unterminated quoted field 2 (its opening quote is on this line)");
  EXPECT_THAT(Read("\"a\"\"").error, HasSubstr("t.csv:1: unterminated quoted field 1"));
}

TEST(CsvReaderTest, CrWithoutLfOutsideQuotesIsAnError) {
  EXPECT_EQ(Read("a\rb\n").error, "t.csv:1: CR without LF outside quotes in field 1");
  EXPECT_EQ(Read("a,b\r").error, "t.csv:1: CR without LF outside quotes in field 2");
}

TEST(CsvReaderTest, FieldsAreValidUntilTheNextRecord) {
  CsvReader reader("\"a\"\"b\",c\n\"d\"\"e\",f\n", "t.csv");
  ASSERT_TRUE(*reader.Next());
  const std::string first(reader.fields()[0]);
  ASSERT_TRUE(*reader.Next());
  EXPECT_EQ(first, "a\"b");
  EXPECT_EQ(reader.fields()[0], "d\"e");
}

// A writer for the round-trip tests: quotes only what needs it.
std::string Quote(const std::string& f, bool always) {
  if (!always && f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Write(const Records& records, const char* eol, bool always_quote, bool last_eol) {
  std::string out;
  for (size_t r = 0; r < records.size(); ++r) {
    for (size_t i = 0; i < records[r].size(); ++i) {
      if (i) out += ',';
      out += Quote(records[r][i], always_quote);
    }
    if (r + 1 < records.size() || last_eol) out += eol;
  }
  return out;
}

Records RandomRecords(std::mt19937& rng, int count) {
  static constexpr char kAlphabet[] = "ab,\"\r\n xé";
  std::uniform_int_distribution<int> fields(1, 6), len(0, 8),
      ch(0, static_cast<int>(sizeof kAlphabet) - 2);
  Records out(count);
  for (auto& r : out) {
    r.resize(fields(rng));
    for (auto& f : r) {
      const int n = len(rng);
      for (int i = 0; i < n; ++i) f += kAlphabet[ch(rng)];
    }
  }
  // A last record of one empty field, without a line break, is no record.
  if (out.back() == std::vector<std::string>{""}) out.back()[0] = "z";
  return out;
}

TEST(CsvReaderTest, RoundTripsRandomRecordsAtEveryChunkSize) {
  std::mt19937 rng(42);
  for (int round = 0; round < 40; ++round) {
    const Records records = RandomRecords(rng, 1 + round);
    const bool crlf = round % 2 == 0;
    const std::string text = Write(records, crlf ? "\r\n" : "\n", round % 3 == 0, round % 5 != 0);
    Parsed whole = Read(text);
    ASSERT_EQ(whole.error, "") << text;
    ASSERT_EQ(whole.records, records) << text;
    for (size_t chunk : {1, 2, 3, 7, 64}) {
      for (size_t block : {1, 5, 16, 4096}) {
        auto reader = CsvReader::FromChunks(text, "t.csv", chunk, block);
        EXPECT_EQ(ReadAll(*reader), whole) << "chunk " << chunk << " block " << block;
      }
    }
  }
}

TEST(CsvReaderTest, StreamingGivesTheSameErrorsAsABuffer) {
  for (const char* text : {"a,b\nc,d\"e\n", "\"a\"b\n", "x\n\"open\n", "a\rb", "a,\"b\"\"",
                           "\"\"\"\"\"", "a\n\r", "\"a\"\r"}) {
    Parsed whole = Read(text);
    EXPECT_NE(whole.error, "") << text;
    for (size_t chunk : {1, 2, 3}) {
      auto reader = CsvReader::FromChunks(text, "t.csv", chunk, 1);
      EXPECT_EQ(ReadAll(*reader), whole) << text << " chunk " << chunk;
    }
  }
}

TEST(CsvReaderTest, ReadsAFileInBlocks) {
  const auto path = std::filesystem::temp_directory_path() / "lw_csv_reader_test.csv";
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    text += std::to_string(i) + ",\"name " + std::to_string(i) + ", \"\"quoted\"\"\",x\r\n";
  }
  std::ofstream(path, std::ios::binary) << text;
  auto reader = CsvReader::OpenFile(Env::Default(), path.string(), "lake/t.csv", 64);
  ASSERT_TRUE(reader.ok()) << reader.message();
  Parsed p = ReadAll(**reader);
  ASSERT_EQ(p.records.size(), 1000u);
  EXPECT_EQ(p.records[999], (std::vector<std::string>{"999", "name 999, \"quoted\"", "x"}));
  EXPECT_EQ(p.lines[999], 1000);
  EXPECT_EQ(p.crlf, 1000);
  EXPECT_EQ(p, Read(text));
  std::filesystem::remove(path);

  auto missing = CsvReader::OpenFile(Env::Default(), path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("cannot open " + path.string()));
}

TEST(CsvReaderTest, ErrorsInAFileNameItsDisplayName) {
  const auto path = std::filesystem::temp_directory_path() / "lw_csv_reader_bad.csv";
  std::ofstream(path, std::ios::binary) << "a\nb\nc\"\n";
  auto reader = CsvReader::OpenFile(Env::Default(), path.string(), "account/2024.csv", 2);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(ReadAll(**reader).error, "account/2024.csv:3: quote inside unquoted field 1");
  std::filesystem::remove(path);
}

}  // namespace
// lake-format.md: NULL is an empty unquoted field, an empty string "".
TEST(CsvReaderTest, TellsQuotedEmptyFromUnquotedEmpty) {
  const std::string data = "a,\"\",,\"x\"\r\n\"\"\n";
  for (size_t chunk : {size_t{1}, size_t{3}, data.size()}) {
    auto r = CsvReader::FromChunks(data, "t.csv", chunk, 2);
    ASSERT_TRUE(*r->Next());
    ASSERT_EQ(r->fields().size(), 4u);
    EXPECT_FALSE(r->quoted(0));
    EXPECT_TRUE(r->quoted(1));
    EXPECT_EQ(r->fields()[1], "");
    EXPECT_FALSE(r->quoted(2));
    EXPECT_EQ(r->fields()[2], "");
    EXPECT_TRUE(r->quoted(3));
    EXPECT_FALSE(r->quoted(4));  // past the fields: not quoted
    ASSERT_TRUE(*r->Next());
    ASSERT_EQ(r->fields().size(), 1u);
    EXPECT_TRUE(r->quoted(0));
    EXPECT_FALSE(*r->Next());
  }
}

}  // namespace linkwatch::sync
