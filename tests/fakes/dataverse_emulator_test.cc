#include "tests/fakes/dataverse_emulator.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/http_receiver.h"
#include "tests/fakes/test_dir.h"

extern char** environ;

namespace linkwatch::fakes {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

struct Answer {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  CURLcode rc = CURLE_OK;
  json Json() const { return json::parse(body, nullptr, false); }
  std::string Code() const {
    const json j = Json();
    return j.is_object() && j.contains("error") && j["error"].is_object()
               ? j["error"].value("code", "")
               : "";
  }
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// One keep-alive libcurl handle.
class Client {
 public:
  Client() : curl_(curl_easy_init()) {}
  ~Client() { curl_easy_cleanup(curl_); }

  Answer Request(const std::string& method, const std::string& url,
                 const std::vector<std::string>& headers = {}, const std::string& body = "") {
    Answer a;
    curl_easy_reset(curl_);
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, CollectHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &a.headers);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    a.rc = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
    curl_slist_free_all(list);
    return a;
  }

 private:
  CURL* curl_;
};

class DataverseEmulatorTest : public ::testing::Test {
 protected:
  explicit DataverseEmulatorTest(DataverseEmulatorOptions options = Options())
      : emu_(std::move(options)) {}

  static DataverseEmulatorOptions Options() {
    DataverseEmulatorOptions o;
    o.webhook_retry_delay = milliseconds(50);
    return o;
  }

  Answer Token(const std::string& secret = "secret") {
    return client_.Request("POST", emu_.Url() + "/tenant/oauth2/v2.0/token",
                           {"Content-Type: application/x-www-form-urlencoded"},
                           "grant_type=client_credentials&client_id=linkwatch&client_secret=" +
                               secret + "&scope=" + emu_.Url() + "%2F.default");
  }
  std::string NewToken() {
    Answer a = Token();
    EXPECT_EQ(a.status, 200) << a.body;
    return a.Json().value("access_token", "");
  }
  // GET with a token (a fresh one unless the test holds one).
  Answer Get(const std::string& url_or_path, std::vector<std::string> headers = {}) {
    if (token_.empty()) token_ = NewToken();
    headers.push_back("Authorization: Bearer " + token_);
    headers.push_back("Accept: application/json");
    headers.push_back("OData-MaxVersion: 4.0");
    headers.push_back("OData-Version: 4.0");
    const std::string url =
        url_or_path.rfind("http", 0) == 0 ? url_or_path : emu_.ApiBase() + url_or_path;
    return client_.Request("GET", url, headers);
  }
  Answer Control(const std::string& path, const json& body) {
    return client_.Request("POST", emu_.Url() + "/_emulator/" + path,
                           {"Content-Type: application/json"}, body.dump());
  }

  // Reads every page from `first`; returns the rows and the last answer.
  std::vector<json> ReadAll(const std::string& first, const std::vector<std::string>& headers,
                            Answer* last, int* pages = nullptr) {
    std::vector<json> rows;
    std::string url = first;
    int n = 0;
    while (true) {
      *last = Get(url, headers);
      ++n;
      EXPECT_EQ(last->status, 200) << last->body;
      if (last->status != 200) break;
      json page = last->Json();
      for (auto& r : page["value"]) rows.push_back(r);
      if (!page.contains("@odata.nextLink")) break;
      url = page["@odata.nextLink"].get<std::string>();
      EXPECT_EQ(url.rfind(emu_.ApiBase(), 0), 0u) << url;
      if (n > 100) break;
    }
    if (pages != nullptr) *pages = n;
    return rows;
  }

  DataverseEmulator emu_;
  Client client_;
  std::string token_;
};

void Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "") << "\n"
      << sql;
}

// A state file in the state-store layout, with some of the columns only.
class StateFile {
 public:
  StateFile() : path_((FreshTestDir("dvemu_state") / "state.db").string()) {
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db_), SQLITE_OK);
    Exec(db_, "PRAGMA journal_mode=WAL");
    Exec(db_,
         "CREATE TABLE synapselinkprofile(synapselinkprofileid TEXT PRIMARY KEY, name TEXT, "
         "profilestate INTEGER, activationtime TEXT, datalakefolder TEXT, copyattachments "
         "INTEGER, versionnumber INTEGER, snapshotstopersist INTEGER)");
    Exec(db_,
         "CREATE TABLE synapselinkprofileentitystate(synapselinkprofileentitystateid TEXT "
         "PRIMARY KEY, entityname TEXT, profile TEXT, syncstate INTEGER, crmrecordcount INTEGER)");
  }
  ~StateFile() { sqlite3_close(db_); }
  void Run(const std::string& sql) { Exec(db_, sql); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

AttributeDef Attr(std::string name, AttributeType type, std::vector<OptionDef> options = {}) {
  AttributeDef a;
  a.logical_name = std::move(name);
  a.type = type;
  a.options = std::move(options);
  return a;
}

EntityDef Account(bool tracked = true) {
  EntityDef e;
  e.logical_name = "account";
  e.entity_set_name = "accounts";
  e.primary_id = "accountid";
  e.primary_name = "name";
  e.change_tracking = tracked;
  e.attributes = {
      Attr("name", AttributeType::kString),
      Attr("revenue", AttributeType::kMoney),
      Attr("industrycode", AttributeType::kPicklist, {{1, "Accounting"}, {2, "Brokers"}}),
      Attr("statecode", AttributeType::kState, {{0, "Active"}, {1, "Inactive"}}),
      Attr("statuscode", AttributeType::kStatus, {{1, "Active"}, {2, "Inactive"}}),
      Attr("primarycontactid", AttributeType::kLookup),
      Attr("modifiedon", AttributeType::kDateTime),
      Attr("versionnumber", AttributeType::kBigInt),
  };
  e.attributes[0].max_length = 160;
  e.attributes[1].precision = 4;
  e.attributes[5].targets = {"contact"};
  return e;
}

// ---------------------------------------------------------------------------

TEST_F(DataverseEmulatorTest, IssuesTokensForTheRightSecretOnly) {
  Answer ok = Token();
  ASSERT_EQ(ok.status, 200) << ok.body;
  json t = ok.Json();
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["expires_in"], 3599);
  EXPECT_EQ(t["ext_expires_in"], 3599);
  EXPECT_FALSE(t["access_token"].get<std::string>().empty());

  Answer wrong = Token("nope");
  EXPECT_EQ(wrong.status, 401);
  json w = wrong.Json();
  EXPECT_EQ(w["error"], "invalid_client");
  EXPECT_EQ(w["error_codes"], json::array({7000215}));
  EXPECT_EQ(
      w["error_description"].get<std::string>().rfind("AADSTS7000215: Invalid client secret", 0),
      0u);

  Answer other_tenant = client_.Request("POST", emu_.Url() + "/elsewhere/oauth2/v2.0/token", {},
                                        "grant_type=client_credentials&client_id=linkwatch&"
                                        "client_secret=secret&scope=x");
  EXPECT_EQ(other_tenant.status, 400);
}

TEST_F(DataverseEmulatorTest, DataRequestsNeedAValidBearerToken) {
  ASSERT_TRUE(emu_.DefineEntity({"account", "accounts", "accountid", "name", true, {}}).ok());
  Answer none = client_.Request("GET", emu_.ApiBase() + "accounts");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Code(), "0x80072560");
  EXPECT_NE(none.headers["www-authenticate"].find("Bearer"), std::string::npos);
  Answer bogus =
      client_.Request("GET", emu_.ApiBase() + "accounts", {"Authorization: Bearer not-a-token"});
  EXPECT_EQ(bogus.status, 401);
  EXPECT_EQ(Get("accounts").status, 200);
}

TEST(DataverseEmulatorTokenTest, TokensExpireAfterTheirLifetime) {
  DataverseEmulatorOptions o;
  o.token_lifetime = std::chrono::seconds(0);
  DataverseEmulator emu(o);
  ASSERT_TRUE(emu.DefineEntity({"account", "accounts", "accountid", "name", true, {}}).ok());
  Client c;
  Answer t = c.Request("POST", emu.Url() + "/tenant/oauth2/v2.0/token", {},
                       "grant_type=client_credentials&client_id=linkwatch&client_secret=secret&"
                       "scope=x");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.Json()["expires_in"], 0);
  Answer a = c.Request("GET", emu.ApiBase() + "accounts",
                       {"Authorization: Bearer " + t.Json()["access_token"].get<std::string>()});
  EXPECT_EQ(a.status, 401);
}

TEST_F(DataverseEmulatorTest, ServesStateTablesWithDataverseShapes) {
  StateFile state;
  state.Run(
      "INSERT INTO synapselinkprofile VALUES('AAAAAAAA-0000-0000-0000-000000000001', 'p1', 1, "
      "'2026-12-03T10:00:00Z', '/lake/p1', 1, 42, NULL)");
  state.Run(
      "INSERT INTO synapselinkprofile VALUES('aaaaaaaa-0000-0000-0000-000000000002', 'p2', 'abc', "
      "NULL, NULL, 0, NULL, 7)");
  state.Run(
      "INSERT INTO synapselinkprofileentitystate VALUES('bbbbbbbb-0000-0000-0000-000000000001', "
      "'account', 'aaaaaaaa-0000-0000-0000-000000000001', 2, 100)");
  emu_.SetStateDb(state.path());

  Answer a = Get("synapselinkprofiles");
  ASSERT_EQ(a.status, 200) << a.body;
  json page = a.Json();
  EXPECT_EQ(page["@odata.context"], emu_.ApiBase() + "$metadata#synapselinkprofiles");
  ASSERT_EQ(page["value"].size(), 2u);
  const json& p1 = page["value"][0];
  EXPECT_EQ(p1["synapselinkprofileid"], "aaaaaaaa-0000-0000-0000-000000000001");
  EXPECT_EQ(p1["@odata.etag"], "W/\"42\"");
  EXPECT_EQ(p1["name"], "p1");
  EXPECT_EQ(p1["profilestate"], 1);
  EXPECT_EQ(p1["activationtime"], "2026-12-03T10:00:00Z");
  EXPECT_EQ(p1["datalakefolder"], "/lake/p1");  // text in linkwatch's schema
  EXPECT_EQ(p1["copyattachments"], true);
  EXPECT_TRUE(p1["snapshotstopersist"].is_null());
  EXPECT_FALSE(p1.contains("profiletype"));  // not in the file
  const json& p2 = page["value"][1];
  EXPECT_EQ(p2["profilestate"], "abc");  // passed through as it is
  EXPECT_EQ(p2["copyattachments"], false);
  EXPECT_EQ(p2["snapshotstopersist"], 7);

  Answer sel = Get("synapselinkprofileentitystates?$select=entityname,_profile_value,syncstate");
  ASSERT_EQ(sel.status, 200) << sel.body;
  json row = sel.Json()["value"][0];
  EXPECT_EQ(sel.Json()["@odata.context"],
            emu_.ApiBase() +
                "$metadata#synapselinkprofileentitystates(entityname,_profile_value,"
                "syncstate)");
  EXPECT_EQ(row["_profile_value"], "aaaaaaaa-0000-0000-0000-000000000001");
  EXPECT_EQ(row["syncstate"], 2);
  EXPECT_FALSE(row.contains("crmrecordcount"));

  Answer bad = Get("synapselinkprofiles?$select=name,foo");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["error"]["message"],
            "Could not find a property named 'foo' on type "
            "'Microsoft.Dynamics.CRM.synapselinkprofile'.");
  EXPECT_EQ(Get("synapselinkprofileentitystates?$select=profile").status, 400);

  // Read fresh on every request; a table missing from the file has no rows.
  state.Run("DELETE FROM synapselinkprofile WHERE name = 'p2'");
  EXPECT_EQ(Get("synapselinkprofiles").Json()["value"].size(), 1u);
  Answer missing = Get("synapsedatabases");
  EXPECT_EQ(missing.status, 200);
  EXPECT_TRUE(missing.Json()["value"].empty());
}

TEST_F(DataverseEmulatorTest, PagesStateTablesThroughNextLink) {
  StateFile state;
  for (int i = 7; i >= 1; --i) {
    state.Run("INSERT INTO synapselinkprofile(synapselinkprofileid, name) VALUES('0000000" +
              std::to_string(i) + "-0000-0000-0000-000000000000', 'p" + std::to_string(i) + "')");
  }
  emu_.SetStateDb(state.path());
  Answer last;
  int pages = 0;
  auto rows =
      ReadAll("synapselinkprofiles?$select=name", {"Prefer: odata.maxpagesize=3"}, &last, &pages);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(rows.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(rows[i]["name"], "p" + std::to_string(i + 1));
  EXPECT_EQ(last.headers["preference-applied"], "odata.maxpagesize=3");

  Answer first = Get("synapselinkprofiles?$select=name", {"Prefer: odata.maxpagesize=3"});
  const std::string next = first.Json()["@odata.nextLink"];
  EXPECT_NE(next.find("$select=name&$skiptoken=%3Ccookie%20pagenumber%3D%222%22"),
            std::string::npos)
      << next;
  // Larger than Dataverse's maximum: 5000.
  Answer big = Get("synapselinkprofiles", {"Prefer: odata.maxpagesize=9000"});
  EXPECT_EQ(big.headers["preference-applied"], "odata.maxpagesize=5000");
  EXPECT_EQ(emu_.Counters().entity_set_page, 5);
}

TEST_F(DataverseEmulatorTest, ThrottlesWithRetryAfter) {
  ASSERT_TRUE(emu_.DefineEntity({"account", "accounts", "accountid", "name", true, {}}).ok());
  token_ = NewToken();
  emu_.Throttle(2, 7);
  for (int i = 0; i < 2; ++i) {
    Answer a = Get("accounts");
    EXPECT_EQ(a.status, 429);
    EXPECT_EQ(a.headers["retry-after"], "7");
    EXPECT_EQ(a.Code(), "0x80072322");
  }
  EXPECT_EQ(Get("accounts").status, 200);
  EXPECT_EQ(emu_.Counters().faults, 2);
}

TEST_F(DataverseEmulatorTest, AnswersServerErrors) {
  ASSERT_TRUE(emu_.DefineEntity({"account", "accounts", "accountid", "name", true, {}}).ok());
  token_ = NewToken();
  emu_.ServerError(1, 502);
  emu_.ServerError(2);
  Answer a = Get("accounts");
  EXPECT_EQ(a.status, 503);
  EXPECT_FALSE(a.Code().empty());
  EXPECT_EQ(Get("accounts").status, 503);
  EXPECT_EQ(Get("accounts").status, 200);
}

TEST_F(DataverseEmulatorTest, RevokedTokensAndRefusedTokenRequests) {
  ASSERT_TRUE(emu_.DefineEntity({"account", "accounts", "accountid", "name", true, {}}).ok());
  token_ = NewToken();
  EXPECT_EQ(Get("accounts").status, 200);
  emu_.RevokeTokens();
  EXPECT_EQ(Get("accounts").status, 401);
  emu_.RefuseToken(1);
  Answer refused = Token();
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.Json()["error"], "invalid_client");
  token_ = NewToken();
  EXPECT_EQ(Get("accounts").status, 200);
}

TEST_F(DataverseEmulatorTest, MalformedAndTruncatedAnswers) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  ASSERT_TRUE(emu_.Create("account", {{"name", std::string(5000, 'x')}}).ok());
  token_ = NewToken();
  emu_.Malformed(1);
  Answer m = Get("accounts");
  EXPECT_EQ(m.status, 200);
  EXPECT_TRUE(m.Json().is_discarded()) << m.body;
  EXPECT_FALSE(Get("accounts").Json().is_discarded());

  emu_.Truncated(1);
  Answer t = Get("accounts");
  EXPECT_EQ(t.rc, CURLE_PARTIAL_FILE);
  EXPECT_LT(t.body.size(), std::stoul(t.headers["content-length"]));
  Answer after = Get("accounts");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.Json()["value"].size(), 1u);
}

TEST_F(DataverseEmulatorTest, SlowAnswers) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  ASSERT_TRUE(emu_.Create("account", {{"name", std::string(3000, 'y')}}).ok());
  token_ = NewToken();
  emu_.Slow(milliseconds(150));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get("accounts").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(150));
  emu_.Slow(milliseconds(0), milliseconds(40));  // 3+ KiB: at least 3 pauses
  start = std::chrono::steady_clock::now();
  Answer a = Get("accounts");
  EXPECT_EQ(a.Json()["value"].size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(120));
  emu_.ClearFaults();
  EXPECT_EQ(Get("accounts").status, 200);
}

TEST_F(DataverseEmulatorTest, StopsWhileAnAnswerIsSlow) {
  ASSERT_TRUE(emu_.DefineEntity({"account", "accounts", "accountid", "name", true, {}}).ok());
  token_ = NewToken();
  emu_.Slow(milliseconds(60000));
  std::thread t([&] { Get("accounts"); });
  std::this_thread::sleep_for(milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  emu_.Stop();
  t.join();
  // Well under the 60 s the answer would have waited (a loose bound: a busy
  // machine must not fail it).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(DataverseEmulatorTest, CountsRequestsByKind) {
  EntityDef e{"account", "accounts", "accountid", "name", true, {}};
  ASSERT_TRUE(emu_.DefineEntity(e).ok());
  token_ = NewToken();
  Get("accounts");
  Answer first = Get("accounts", {"Prefer: odata.track-changes"});
  Get(first.Json()["@odata.deltaLink"].get<std::string>());
  Get("EntityDefinitions(LogicalName='account')");
  Get("RetrieveTotalRecordCount(EntityNames=['account'])");
  Get("nothing");
  client_.Request("GET", emu_.Url() + "/_emulator/counters");
  EmulatorCounters c = emu_.Counters();
  EXPECT_EQ(c.token, 1);
  EXPECT_EQ(c.entity_set_page, 2);
  EXPECT_EQ(c.delta_page, 1);
  EXPECT_EQ(c.metadata, 1);
  EXPECT_EQ(c.count_function, 1);
  EXPECT_EQ(c.other, 1);
  EXPECT_EQ(c.control, 1);
  EXPECT_EQ(c.total, 8);
  emu_.ResetCounters();
  EXPECT_EQ(emu_.Counters().total, 0);
}

std::string Id(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
  return buf;
}

TEST_F(DataverseEmulatorTest, TracksChangesThroughDeltaLinks) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  std::vector<json> rows;
  for (int i = 1; i <= 10; ++i) {
    rows.push_back({{"accountid", Id(i)}, {"name", "a" + std::to_string(i)}, {"revenue", i * 1.5}});
  }
  ASSERT_TRUE(emu_.BulkCreate("account", rows).ok());
  const std::vector<std::string> prefer = {"Prefer: odata.track-changes, odata.maxpagesize=4"};

  Answer last;
  int pages = 0;
  auto initial =
      ReadAll("accounts?$select=name,revenue,_primarycontactid_value", prefer, &last, &pages);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(initial.size(), 10u);
  EXPECT_EQ(initial[0]["accountid"], Id(1));
  EXPECT_EQ(initial[0]["name"], "a1");
  EXPECT_EQ(initial[0]["revenue"], 1.5);
  EXPECT_TRUE(initial[0]["_primarycontactid_value"].is_null());
  EXPECT_FALSE(initial[0].contains("versionnumber"));
  EXPECT_EQ(last.headers["preference-applied"], "odata.track-changes, odata.maxpagesize=4");
  const std::string delta = last.Json()["@odata.deltaLink"];
  EXPECT_EQ(delta.rfind(emu_.ApiBase() + "accounts?$select=name,revenue,_primarycontactid_value&"
                                         "$deltatoken=",
                        0),
            0u)
      << delta;

  // Nothing changed: an empty page and a new delta link.
  Answer same = Get(delta, {"Prefer: odata.track-changes"});
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_TRUE(same.Json()["value"].empty());
  EXPECT_TRUE(same.Json().contains("@odata.deltaLink"));

  ASSERT_TRUE(emu_.Update("account", Id(2), {{"name", "two"}}).ok());
  ASSERT_TRUE(emu_.Update("account", Id(2), {{"_primarycontactid_value", Id(99)}}).ok());
  ASSERT_TRUE(emu_.Delete("account", Id(3)).ok());
  auto created = emu_.Create("account", {{"name", "new"}});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(emu_.Update("account", Id(3), {{"name", "gone"}}).ok(), false);

  auto changes = ReadAll(delta, {"Prefer: odata.track-changes, odata.maxpagesize=2"}, &last);
  ASSERT_EQ(changes.size(), 3u);
  std::map<std::string, json> by_id;
  for (auto& c : changes) {
    by_id[(c.contains("accountid") ? c["accountid"] : c["id"]).get<std::string>()] = c;
  }
  EXPECT_EQ(by_id[Id(2)]["name"], "two");
  EXPECT_EQ(by_id[Id(2)]["revenue"], 3.0);
  EXPECT_EQ(by_id[Id(2)]["_primarycontactid_value"], Id(99));
  EXPECT_EQ(by_id[Id(3)]["reason"], "deleted");
  EXPECT_EQ(by_id[Id(3)]["@odata.context"], emu_.ApiBase() + "$metadata#accounts/$deletedEntity");
  EXPECT_EQ(by_id[*created]["name"], "new");
  EXPECT_NE(last.Json()["@odata.context"].get<std::string>().find("/$delta"), std::string::npos);
  const std::string delta2 = last.Json()["@odata.deltaLink"];
  EXPECT_NE(delta2, delta);
  EXPECT_TRUE(Get(delta2).Json()["value"].empty());
  // The old link still answers the same changes (at least once).
  EXPECT_EQ(ReadAll(delta, {}, &last).size(), 3u);
  EXPECT_EQ(emu_.RowCount("account").value(), 10);
}

TEST_F(DataverseEmulatorTest, ChangesDuringAnInitialReadComeInTheNextDelta) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(emu_.Create("account", {{"accountid", Id(i)}}).ok());
  Answer first = Get("accounts?$select=name", {"Prefer: odata.track-changes,odata.maxpagesize=2"});
  ASSERT_TRUE(first.Json().contains("@odata.nextLink"));
  ASSERT_TRUE(emu_.Update("account", Id(1), {{"name", "changed"}}).ok());
  Answer second = Get(first.Json()["@odata.nextLink"].get<std::string>(),
                      {"Prefer: odata.track-changes,odata.maxpagesize=2"});
  const std::string delta = second.Json()["@odata.deltaLink"];
  Answer last;
  auto changes = ReadAll(delta, {}, &last);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0]["name"], "changed");
}

TEST_F(DataverseEmulatorTest, RefusesChangeTrackingWhereNotPossible) {
  EntityDef contact{"contact", "contacts", "contactid", "fullname", false, {}};
  ASSERT_TRUE(emu_.DefineEntity(contact).ok());
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  Answer a = Get("contacts", {"Prefer: odata.track-changes"});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.Code(), "0x80072491");
  EXPECT_EQ(Get("contacts").status, 200);
  Answer f = Get("accounts?$filter=name%20eq%20'x'", {"Prefer: odata.track-changes"});
  EXPECT_EQ(f.status, 400);
  EXPECT_EQ(Get("accounts?$top=3", {"Prefer: odata.track-changes"}).status, 400);
}

TEST_F(DataverseEmulatorTest, ExpiredDeltaTokens) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  Answer first = Get("accounts", {"Prefer: odata.track-changes"});
  const std::string delta = first.Json()["@odata.deltaLink"];
  EXPECT_EQ(Get(delta).status, 200);
  emu_.ExpireDeltaTokens();
  Answer expired = Get(delta);
  EXPECT_EQ(expired.status, 400);
  EXPECT_EQ(expired.Code(), "0x80044352");
  EXPECT_EQ(expired.Json()["error"]["message"],
            "Version stamp associated with the client has expired. Please perform a full sync.");
  // A full read gives a token that works.
  Answer again = Get("accounts", {"Prefer: odata.track-changes"});
  EXPECT_EQ(Get(again.Json()["@odata.deltaLink"].get<std::string>()).status, 200);
}

TEST(DataverseEmulatorRetentionTest, DeltaTokensOlderThanTheRetentionExpire) {
  DataverseEmulatorOptions o;
  o.delta_token_retention = std::chrono::seconds(0);
  DataverseEmulator emu(o);
  ASSERT_TRUE(emu.DefineEntity(Account()).ok());
  Client c;
  Answer t = c.Request("POST", emu.Url() + "/tenant/oauth2/v2.0/token", {},
                       "grant_type=client_credentials&client_id=linkwatch&client_secret=secret&"
                       "scope=x");
  const std::string auth = "Authorization: Bearer " + t.Json()["access_token"].get<std::string>();
  Answer first =
      c.Request("GET", emu.ApiBase() + "accounts", {auth, "Prefer: odata.track-changes"});
  Answer d = c.Request("GET", first.Json()["@odata.deltaLink"].get<std::string>(), {auth});
  EXPECT_EQ(d.status, 400);
  EXPECT_EQ(d.Code(), "0x80044352");
}

TEST_F(DataverseEmulatorTest, ServesEntityMetadataAndOptionSets) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  Answer a =
      Get("EntityDefinitions(LogicalName='account')?$select=LogicalName,EntitySetName&$expand="
          "Attributes($select=LogicalName,AttributeType)");
  ASSERT_EQ(a.status, 200) << a.body;
  json m = a.Json();
  EXPECT_EQ(m["LogicalName"], "account");
  EXPECT_EQ(m["EntitySetName"], "accounts");
  EXPECT_EQ(m["PrimaryIdAttribute"], "accountid");
  EXPECT_EQ(m["PrimaryNameAttribute"], "name");
  EXPECT_EQ(m["ChangeTrackingEnabled"], true);
  EXPECT_FALSE(m["MetadataId"].get<std::string>().empty());
  std::map<std::string, json> attrs;
  for (auto& at : m["Attributes"]) attrs[at["LogicalName"].get<std::string>()] = at;
  ASSERT_EQ(attrs.size(), 9u);  // the primary id is added
  EXPECT_EQ(attrs["accountid"]["AttributeType"], "Uniqueidentifier");
  EXPECT_EQ(attrs["accountid"]["IsPrimaryId"], true);
  EXPECT_EQ(attrs["name"]["@odata.type"], "#Microsoft.Dynamics.CRM.StringAttributeMetadata");
  EXPECT_EQ(attrs["name"]["AttributeTypeName"]["Value"], "StringType");
  EXPECT_EQ(attrs["name"]["MaxLength"], 160);
  EXPECT_EQ(attrs["revenue"]["AttributeType"], "Money");
  EXPECT_EQ(attrs["revenue"]["Precision"], 4);
  EXPECT_EQ(attrs["primarycontactid"]["Targets"], json::array({"contact"}));
  EXPECT_EQ(attrs["versionnumber"]["AttributeTypeName"]["Value"], "BigIntType");

  Answer unknown = Get("EntityDefinitions(LogicalName='nothing')");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.Code(), "0x80040217");

  Answer pick =
      Get("EntityDefinitions(LogicalName='account')/Attributes/"
          "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($"
          "select=Options)");
  ASSERT_EQ(pick.status, 200) << pick.body;
  json v = pick.Json()["value"];
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0]["LogicalName"], "industrycode");
  json opt = v[0]["OptionSet"]["Options"][1];
  EXPECT_EQ(opt["Value"], 2);
  EXPECT_EQ(opt["Label"]["LocalizedLabels"][0]["Label"], "Brokers");
  EXPECT_EQ(opt["Label"]["UserLocalizedLabel"]["LanguageCode"], 1033);
  for (const char* t : {"State", "Status"}) {
    Answer s = Get(std::string("EntityDefinitions(LogicalName=%27account%27)/Attributes/"
                               "Microsoft.Dynamics.CRM.") +
                   t + "AttributeMetadata?$expand=OptionSet");
    ASSERT_EQ(s.status, 200) << s.body;
    EXPECT_EQ(s.Json()["value"][0]["OptionSet"]["Options"].size(), 2u);
  }
  // The state tables have metadata too.
  EXPECT_EQ(Get("EntityDefinitions(LogicalName='synapselinkprofile')").Json()["EntitySetName"],
            "synapselinkprofiles");
}

TEST_F(DataverseEmulatorTest, RetrievesTotalRecordCounts) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  ASSERT_TRUE(emu_.DefineEntity({"contact", "contacts", "contactid", "fullname", true, {}}).ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(emu_.Create("account", {{"name", "x"}}).ok());
  ASSERT_TRUE(emu_.Create("contact", json::object()).ok());
  Answer a = Get("RetrieveTotalRecordCount(EntityNames=['account','contact'])");
  ASSERT_EQ(a.status, 200) << a.body;
  json c = a.Json()["EntityRecordCountCollection"];
  EXPECT_EQ(c["Count"], 2);
  EXPECT_EQ(c["Keys"], json::array({"account", "contact"}));
  EXPECT_EQ(c["Values"], json::array({3, 1}));
  Answer alias = Get("RetrieveTotalRecordCount(EntityNames=@p1)?@p1=%5B%27account%27%5D");
  ASSERT_EQ(alias.status, 200) << alias.body;
  EXPECT_EQ(alias.Json()["EntityRecordCountCollection"]["Values"], json::array({3}));
  EXPECT_EQ(Get("RetrieveTotalRecordCount(EntityNames=['nothing'])").status, 404);
}

TEST_F(DataverseEmulatorTest, PostsWebhooksAndRetriesOnceAfter503) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  HttpReceiver receiver;
  receiver.Push(503);
  emu_.AddWebhook({receiver.Url("/hook"), "k3y", "account", false});
  auto id = emu_.Create("account", {{"name", "hooked"}});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(emu_.WaitForWebhookAttempts(2));
  auto attempts = emu_.WebhookAttempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, 503);
  EXPECT_EQ(attempts[1].status, 200);
  EXPECT_EQ(attempts[1].attempt, 2);
  auto requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 2u);
  const RecordedRequest& r = requests[1];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.Header("x-linkwatch-key"), "k3y");
  EXPECT_EQ(r.Header("x-ms-dynamics-entity-name"), "account");
  EXPECT_EQ(r.Header("x-ms-dynamics-request-name"), "Create");
  EXPECT_EQ(r.Header("x-ms-dynamics-organization"), "emulator.crm.dynamics.com");
  EXPECT_EQ(r.Header("x-ms-correlation-request-id"), attempts[0].correlation_id);
  json body = json::parse(r.body);
  EXPECT_EQ(body["MessageName"], "Create");
  EXPECT_EQ(body["PrimaryEntityName"], "account");
  EXPECT_EQ(body["PrimaryEntityId"], *id);
  EXPECT_EQ(body["CorrelationId"], attempts[0].correlation_id);
  EXPECT_EQ(body["Depth"], 1);
  EXPECT_EQ(body["Mode"], 1);
  EXPECT_EQ(body["Stage"], 40);
  EXPECT_FALSE(body["OrganizationId"].get<std::string>().empty());
  EXPECT_EQ(body["InputParameters"][0]["key"], "Target");

  // Key in the query; a delete; no retry after a 500.
  emu_.RemoveWebhooks();
  emu_.AddWebhook({receiver.Url("/q"), "a b", "", true});
  receiver.Push(500);
  ASSERT_TRUE(emu_.Delete("account", *id).ok());
  ASSERT_TRUE(emu_.WaitForWebhookAttempts(3));
  ASSERT_TRUE(receiver.WaitForRequests(3));
  std::this_thread::sleep_for(milliseconds(150));  // longer than the retry delay
  EXPECT_EQ(emu_.WebhookAttempts().size(), 3u);
  const RecordedRequest d = receiver.Requests()[2];
  EXPECT_EQ(d.target, "/q?code=a%20b");
  EXPECT_FALSE(d.Header("x-linkwatch-key").has_value());
  EXPECT_EQ(json::parse(d.body)["MessageName"], "Delete");
}

TEST_F(DataverseEmulatorTest, ControlApiDrivesEverything) {
  json def = {{"logical_name", "lead"},
              {"primary_name", "subject"},
              {"attributes",
               {{{"logical_name", "subject"}, {"type", "String"}},
                {{"logical_name", "budget"}, {"type", "Decimal"}, {"precision", 3}}}}};
  EXPECT_EQ(Control("entities", def).status, 200);
  Answer created =
      Control("entities/lead/rows", json::array({{{"subject", "s1"}}, {{"subject", "s2"}}}));
  ASSERT_EQ(created.status, 200) << created.body;
  auto ids = created.Json()["ids"];
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(Control("entities/lead/update", {{"leadid", ids[0]}, {"budget", 1.5}}).status, 200);
  EXPECT_EQ(Control("entities/lead/delete", json::array({ids[1]})).status, 200);
  EXPECT_EQ(Control("entities/lead/rows", {{"nope", 1}}).status, 400);
  Answer rows = Get("leads");
  ASSERT_EQ(rows.status, 200) << rows.body;
  ASSERT_EQ(rows.Json()["value"].size(), 1u);
  EXPECT_EQ(rows.Json()["value"][0]["budget"], 1.5);

  EXPECT_EQ(Control("faults/throttle", {{"count", 1}, {"retry_after", 3}}).status, 200);
  Answer t = Get("leads");
  EXPECT_EQ(t.status, 429);
  EXPECT_EQ(t.headers["retry-after"], "3");
  EXPECT_EQ(Control("faults/server_error", {{"count", 1}, {"status", 504}}).status, 200);
  EXPECT_EQ(Get("leads").status, 504);
  EXPECT_EQ(Control("faults/revoke_tokens", json::object()).status, 200);
  EXPECT_EQ(Get("leads").status, 401);
  token_.clear();

  StateFile state;
  EXPECT_EQ(Control("state_db", {{"path", state.path()}}).status, 200);
  EXPECT_EQ(Get("synapselinkprofiles").status, 200);

  Answer counters = client_.Request("GET", emu_.Url() + "/_emulator/counters");
  ASSERT_EQ(counters.status, 200);
  EXPECT_EQ(counters.Json()["faults"], 2);
  EXPECT_EQ(counters.Json()["token"], 2);
  EXPECT_EQ(client_.Request("POST", emu_.Url() + "/_emulator/nothing").status, 404);
}

// How fast is for benchmarks, not for a test on a shared machine: this
// checks only that 100,000 rows go in at once and read back paged.
TEST_F(DataverseEmulatorTest, BulkCreatesAHundredThousandRows) {
  ASSERT_TRUE(emu_.DefineEntity(Account()).ok());
  std::vector<json> rows;
  rows.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    rows.push_back({{"name", "account " + std::to_string(i)}, {"revenue", i}, {"statecode", 0}});
  }
  ASSERT_TRUE(emu_.BulkCreate("account", rows).ok());
  EXPECT_EQ(emu_.RowCount("account").value(), 100000);
  Answer first = Get("accounts?$select=name", {"Prefer: odata.maxpagesize=5000"});
  EXPECT_EQ(first.Json()["value"].size(), 5000u);
  EXPECT_TRUE(first.Json().contains("@odata.nextLink"));
}

TEST(DataverseEmulatorBinaryTest, StartsPrintsItsPortAndStopsOnSigterm) {
  const auto dir = FreshTestDir("dvemu_bin");
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string store = (dir / "store.db").string();
  std::vector<std::string> args = {LINKWATCH_DATAVERSE_EMULATOR_BIN, "--demo-account-rows", "12",
                                   "--store", store};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ASSERT_EQ(line.rfind("listening on http://127.0.0.1:", 0), 0u) << line;
  const std::string url = line.substr(13);

  Client client;
  Answer health = client.Request("GET", url + "/_emulator/health");
  EXPECT_EQ(health.status, 200);
  Answer t = client.Request("POST", url + "/tenant/oauth2/v2.0/token", {},
                            "grant_type=client_credentials&client_id=linkwatch&client_secret="
                            "secret&scope=x");
  ASSERT_EQ(t.status, 200);
  Answer rows = client.Request(
      "GET", url + "/api/data/v9.2/RetrieveTotalRecordCount(EntityNames=['account'])",
      {"Authorization: Bearer " + t.Json()["access_token"].get<std::string>()});
  EXPECT_EQ(rows.Json()["EntityRecordCountCollection"]["Values"], json::array({12}));

  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  close(out[0]);
}

}  // namespace
}  // namespace linkwatch::fakes
