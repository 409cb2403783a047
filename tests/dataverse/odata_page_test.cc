#include "agent/dataverse/odata_page.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace linkwatch::dataverse {
namespace {

using Kind = ODataValue::Kind;

struct Collected {
  std::vector<std::vector<std::pair<std::string, ODataValue>>> rows;
  std::vector<bool> deleted;
};

// Feeds `body` in pieces of `step` bytes.
Result<ODataPageEnd> Parse(const std::string& body, Collected& out, size_t step,
                           ODataLimits limits = {}) {
  ODataPageParser parser(
      [&](const ODataRow& row) {
        std::vector<std::pair<std::string, ODataValue>> fields;
        for (const ODataField& f : row) fields.emplace_back(f.name, f.value);
        out.rows.push_back(std::move(fields));
        out.deleted.push_back(row.deleted());
        return Status::Ok();
      },
      limits);
  for (size_t i = 0; i < body.size(); i += step) {
    Status s = parser.Feed(std::string_view(body).substr(i, step));
    if (!s.ok()) return s;
  }
  return parser.Finish();
}

const std::string kPage = R"json({
  "@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name,revenue)",
  "@odata.count": 3,
  "value": [
    {"@odata.etag": "W/\"101\"", "accountid": "0b5a1f3e-0000-0000-0000-000000000001",
     "name": "Caf\u00e9 \"Zur\" \\ Linde\n", "revenue": 12345678901234567.89,
     "numberofemployees": 9007199254740993, "donotemail": true, "description": null,
     "_parentaccountid_value": "0b5a1f3e-0000-0000-0000-000000000002",
     "address": {"city": "Köln", "lines": [1, 2.5, "x", null, false, {}], "empty": []}},
    {"accountid": "0b5a1f3e-0000-0000-0000-000000000002", "name": "", "revenue": -0.0},
    {"@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#accounts/$deletedEntity",
     "id": "0b5a1f3e-0000-0000-0000-000000000003", "reason": "deleted"}
  ],
  "@odata.nextLink": "https://org.crm.dynamics.com/api/data/v9.2/accounts?$select=name&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E",
  "@Microsoft.Dynamics.CRM.totalrecordcount": -1,
  "@Microsoft.Dynamics.CRM.globalmetadataversion": {"nested": [1, {"deep": true}]}
})json";

TEST(ODataPageParserTest, HandsOverEachRowWithItsValuesAsSentWhateverTheChunking) {
  for (size_t step : {size_t{1}, size_t{3}, size_t{64}, kPage.size()}) {
    SCOPED_TRACE("chunks of " + std::to_string(step));
    Collected got;
    auto end = Parse(kPage, got, step);
    ASSERT_TRUE(end.ok()) << end.message();
    EXPECT_EQ(end->rows, 3u);
    EXPECT_EQ(end->bytes, kPage.size());
    EXPECT_EQ(end->count, 3);
    EXPECT_EQ(end->context,
              "https://org.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name,revenue)");
    EXPECT_EQ(end->next_link,
              "https://org.crm.dynamics.com/api/data/v9.2/"
              "accounts?$select=name&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E");
    EXPECT_EQ(end->delta_link, "");
    ASSERT_EQ(got.rows.size(), 3u);
    const auto& r = got.rows[0];
    ASSERT_EQ(r.size(), 9u);
    EXPECT_EQ(r[0].first, "@odata.etag");
    EXPECT_EQ(r[0].second.text, "W/\"101\"");
    EXPECT_EQ(r[2].first, "name");
    EXPECT_EQ(r[2].second.kind, Kind::kString);
    EXPECT_EQ(r[2].second.text, "Caf\xc3\xa9 \"Zur\" \\ Linde\n");
    // Numbers keep their literal: no double in between.
    EXPECT_EQ(r[3].second.kind, Kind::kNumber);
    EXPECT_EQ(r[3].second.text, "12345678901234567.89");
    EXPECT_EQ(r[4].second.text, "9007199254740993");
    EXPECT_EQ(r[5].second.kind, Kind::kBool);
    EXPECT_EQ(r[5].second.text, "true");
    EXPECT_EQ(r[6].second.kind, Kind::kNull);
    EXPECT_EQ(r[7].first, "_parentaccountid_value");
    EXPECT_EQ(r[8].first, "address");
    EXPECT_EQ(r[8].second.kind, Kind::kJson);
    EXPECT_EQ(r[8].second.text, R"({"city":"Köln","lines":[1,2.5,"x",null,false,{}],"empty":[]})");
    EXPECT_EQ(got.rows[1][2].second.text, "-0.0");
    EXPECT_FALSE(got.deleted[0]);
    EXPECT_FALSE(got.deleted[1]);
    EXPECT_TRUE(got.deleted[2]);
    EXPECT_EQ(got.rows[2][1].second.text, "0b5a1f3e-0000-0000-0000-000000000003");
  }
}

TEST(ODataPageParserTest, ReadsTheDeltaLinkAndAnEmptyPage) {
  Collected got;
  auto end = Parse(
      R"({"@odata.context":"x","value":[],"@odata.deltaLink":"https://e/api/data/v9.2/accounts?$deltatoken=919042%2108%2F22%2F2017"})",
      got, 5);
  ASSERT_TRUE(end.ok()) << end.message();
  EXPECT_EQ(end->rows, 0u);
  EXPECT_EQ(end->delta_link,
            "https://e/api/data/v9.2/accounts?$deltatoken=919042%2108%2F22%2F2017");
  EXPECT_EQ(end->next_link, "");
}

TEST(ODataPageParserTest, MalformedJsonNamesTheByteWhereItBroke) {
  Collected got;
  const std::string body = R"({"value":[{"a":1},{"a":2,}]})";
  auto end = Parse(body, got, 4);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.message().find("malformed JSON at byte 25: "), 0u) << end.message();  // the "}"
  EXPECT_EQ(got.rows.size(), 1u);  // the rows before the break were handed over
}

TEST(ODataPageParserTest, AnAnswerCutShortIsAnErrorNotAShortPage) {
  const std::string body = kPage.substr(0, kPage.size() / 2);
  for (size_t step : {size_t{7}, body.size()}) {
    Collected got;
    auto end = Parse(body, got, step);
    ASSERT_FALSE(end.ok());
    EXPECT_NE(end.message().find("ends early"), std::string::npos) << end.message();
  }
  Collected got;
  auto empty = Parse("", got, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.message().find("ends early"), std::string::npos) << empty.message();
}

TEST(ODataPageParserTest, RefusesWhatIsNotAPage) {
  for (const std::string body :
       {R"([{"a":1}])", R"("value")", "42", R"({"value":{"a":1}})", R"({"value":[1,2]})",
        R"({"value":[[1]]})", R"({"value":"x"})", R"({"@odata.nextLink":5,"value":[]})",
        R"({"@odata.count":"3","value":[]})", R"({"value":[]} {"value":[]})",
        "{\"value\":[{\"a\":\"\xff\"}]}"}) {
    SCOPED_TRACE(body);
    Collected got;
    auto end = Parse(body, got, 1);
    EXPECT_FALSE(end.ok());
    EXPECT_FALSE(end.message().empty());
  }
}

TEST(ODataPageParserTest, AnErrorObjectIsDataversesErrorWithItsCode) {
  Collected got;
  auto end = Parse(
      R"({"error":{"code":"0x80044352","message":"Version stamp associated with the client has expired.","innererror":{"type":"x","stacktrace":["a","b"]}}})",
      got, 3);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.message(),
            "Dataverse answered an error: Version stamp associated with the client has expired. "
            "(0x80044352)");
  auto e =
      ParseODataError(R"({"error":{"code":"0x80072322","message":"Number of requests exceeded"}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "0x80072322");
  EXPECT_EQ(e->ToString(), "Number of requests exceeded (0x80072322)");
  EXPECT_FALSE(ParseODataError("<html>502 Bad Gateway</html>").has_value());
  EXPECT_FALSE(ParseODataError(R"({"error":"invalid_client"})").has_value());
  EXPECT_FALSE(ParseODataError("").has_value());
}

TEST(ODataPageParserTest, AHugeValueIsRefusedBeforeItIsHeld) {
  ODataLimits limits;
  limits.max_row_bytes = 1000;
  // One string value that never ends, streamed in 100-byte chunks: refused
  // once it passes the limit, long before the body ends.
  ODataPageParser parser([](const ODataRow&) { return Status::Ok(); }, limits);
  ASSERT_TRUE(parser.Feed(R"({"value":[{"name":")").ok());
  const std::string chunk(100, 'x');
  size_t fed = 0;
  Status s = Status::Ok();
  while (s.ok() && fed < 1000000) {
    s = parser.Feed(chunk);
    fed += chunk.size();
  }
  ASSERT_FALSE(s.ok());
  EXPECT_LT(fed, 2500u);
  EXPECT_NE(s.message().find("1000 bytes"), std::string::npos) << s.message();
  EXPECT_FALSE(parser.Finish().ok());

  // A whole row over the limit, in one chunk.
  Collected got;
  auto end =
      Parse(R"({"value":[{"a":")" + std::string(2000, 'y') + R"("}]})", got, 1 << 20, limits);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("row 1 is larger than 1000 bytes"), std::string::npos)
      << end.message();
  // Many fields.
  limits.max_row_bytes = 1 << 20;
  limits.max_fields = 3;
  auto fields = Parse(R"({"value":[{"a":1,"b":2,"c":3,"d":4}]})", got, 1 << 20, limits);
  ASSERT_FALSE(fields.ok());
  EXPECT_NE(fields.message().find("more than 3 fields"), std::string::npos) << fields.message();
}

TEST(ODataPageParserTest, DeepNestingIsRefused) {
  Collected got;
  std::string body = R"({"value":[{"a":)";
  for (int i = 0; i < 100000; ++i) body += '[';
  auto end = Parse(body, got, 4096);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("nested deeper than 64"), std::string::npos) << end.message();
}

TEST(ODataPageParserTest, TheReadersErrorStopsTheParse) {
  int seen = 0;
  ODataPageParser parser([&](const ODataRow& row) {
    ++seen;
    const ODataValue* v = row.Find("a");
    if (v != nullptr && v->text == "2") return Status::Error("no room");
    return Status::Ok();
  });
  Status s = parser.Feed(R"({"value":[{"a":1},{"a":2},{"a":3}]})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "row 2: no room");
  EXPECT_EQ(seen, 2);
  EXPECT_FALSE(parser.Finish().ok());
}

}  // namespace
}  // namespace linkwatch::dataverse
