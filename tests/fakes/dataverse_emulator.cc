#include "tests/fakes/dataverse_emulator.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "agent/core/text.h"
#include "agent/state/db.h"
#include "agent/state/schema.h"

namespace linkwatch::fakes {

namespace bhttp = boost::beast::http;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kApiPrefix = "/api/data/v9.2/";
constexpr std::string_view kControlPrefix = "/_emulator/";
constexpr int kMaxPageSize = 5000;
constexpr int64_t kMaxRequestBody = 256LL << 20;

// ---------------------------------------------------------------------------
// Small helpers.

using ojson = nlohmann::ordered_json;  // answers keep Dataverse's member order

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string DumpOrdered(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    out.push_back(
        s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string Trim(std::string_view s) { return std::string(StripAsciiWhitespace(s)); }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

std::string RandomHex(size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xff);
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

std::string FormatGuid(std::string_view hex32) {
  return std::string(hex32.substr(0, 8)) + "-" + std::string(hex32.substr(8, 4)) + "-" +
         std::string(hex32.substr(12, 4)) + "-" + std::string(hex32.substr(16, 4)) + "-" +
         std::string(hex32.substr(20, 12));
}

std::string NewGuid() {
  std::string hex = RandomHex(16);
  hex[12] = '4';  // version 4
  hex[16] = "89ab"[HexValue(hex[16]) & 3];
  return FormatGuid(hex);
}

// A stable GUID for a name (MetadataId, organization ids).
std::string NameGuid(std::string_view name) {
  auto fnv = [&](uint64_t seed) {
    uint64_t h = seed;
    for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
    return h;
  };
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(fnv(14695981039346656037ULL)),
                static_cast<unsigned long long>(fnv(0x9e3779b97f4a7c15ULL)));
  return FormatGuid(buf);
}

std::string FormatTime(std::chrono::system_clock::time_point t, const char* format) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string IsoNow() { return FormatTime(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%SZ"); }

// ---------------------------------------------------------------------------
// Attribute types: names in metadata and in the control API.

struct TypeInfo {
  AttributeType type;
  const char* name;        // AttributeType
  const char* odata_type;  // @odata.type
};

constexpr TypeInfo kTypes[] = {
    {AttributeType::kString, "String", "StringAttributeMetadata"},
    {AttributeType::kMemo, "Memo", "MemoAttributeMetadata"},
    {AttributeType::kInteger, "Integer", "IntegerAttributeMetadata"},
    {AttributeType::kBigInt, "BigInt", "BigIntAttributeMetadata"},
    {AttributeType::kDecimal, "Decimal", "DecimalAttributeMetadata"},
    {AttributeType::kDouble, "Double", "DoubleAttributeMetadata"},
    {AttributeType::kMoney, "Money", "MoneyAttributeMetadata"},
    {AttributeType::kBoolean, "Boolean", "BooleanAttributeMetadata"},
    {AttributeType::kDateTime, "DateTime", "DateTimeAttributeMetadata"},
    {AttributeType::kUniqueidentifier, "Uniqueidentifier", "UniqueIdentifierAttributeMetadata"},
    {AttributeType::kLookup, "Lookup", "LookupAttributeMetadata"},
    {AttributeType::kPicklist, "Picklist", "PicklistAttributeMetadata"},
    {AttributeType::kState, "State", "StateAttributeMetadata"},
    {AttributeType::kStatus, "Status", "StatusAttributeMetadata"},
};

const TypeInfo& InfoOf(AttributeType t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i;
  }
  return kTypes[0];
}

std::optional<AttributeType> TypeNamed(std::string_view name) {
  for (const auto& i : kTypes) {
    if (EqualsIgnoreCase(i.name, name)) return i.type;
  }
  return std::nullopt;
}

bool HasOptions(AttributeType t) {
  return t == AttributeType::kPicklist || t == AttributeType::kState || t == AttributeType::kStatus;
}

json EntityToJson(const EntityDef& e) {
  json attrs = json::array();
  for (const auto& a : e.attributes) {
    json options = json::array();
    for (const auto& o : a.options) options.push_back({{"value", o.value}, {"label", o.label}});
    attrs.push_back({{"logical_name", a.logical_name},
                     {"type", InfoOf(a.type).name},
                     {"max_length", a.max_length},
                     {"precision", a.precision},
                     {"targets", a.targets},
                     {"options", options}});
  }
  return {{"logical_name", e.logical_name},       {"entity_set_name", e.entity_set_name},
          {"primary_id", e.primary_id},           {"primary_name", e.primary_name},
          {"change_tracking", e.change_tracking}, {"attributes", attrs}};
}

Result<EntityDef> EntityFromJson(const json& j) {
  try {
    EntityDef e;
    e.logical_name = j.at("logical_name").get<std::string>();
    e.entity_set_name = j.value("entity_set_name", "");
    e.primary_id = j.value("primary_id", "");
    e.primary_name = j.value("primary_name", "");
    e.change_tracking = j.value("change_tracking", true);
    for (const auto& ja : j.value("attributes", json::array())) {
      AttributeDef a;
      a.logical_name = ja.at("logical_name").get<std::string>();
      const std::string type = ja.value("type", "String");
      auto t = TypeNamed(type);
      if (!t) return Status::Error("attribute " + a.logical_name + ": unknown type " + type);
      a.type = *t;
      a.max_length = ja.value("max_length", 0);
      a.precision = ja.value("precision", 2);
      a.targets = ja.value("targets", std::vector<std::string>{});
      for (const auto& jo : ja.value("options", json::array())) {
        a.options.push_back({jo.at("value").get<int>(), jo.value("label", "")});
      }
      e.attributes.push_back(std::move(a));
    }
    return e;
  } catch (const json::exception& ex) {
    return Status::Error(std::string("bad entity definition: ") + ex.what());
  }
}

// The six state tables described as entities (for metadata and counts).
EntityDef StateEntityDef(const state::TableDef& t) {
  EntityDef e;
  e.logical_name = std::string(t.name);
  e.entity_set_name = std::string(t.entity_set);
  e.primary_id = std::string(t.columns[0].name);
  e.primary_name = "name";
  e.change_tracking = false;
  for (const auto& c : t.columns) {
    AttributeDef a;
    a.logical_name = std::string(c.name);
    switch (c.type) {
      case state::ColumnType::kGuid:
        a.type = AttributeType::kUniqueidentifier;
        break;
      case state::ColumnType::kString:
        a.type = AttributeType::kString;
        break;
      case state::ColumnType::kInt:
        a.type = AttributeType::kBigInt;
        break;
      case state::ColumnType::kBool:
        a.type = AttributeType::kBoolean;
        break;
      case state::ColumnType::kDateTime:
        a.type = AttributeType::kDateTime;
        break;
      case state::ColumnType::kChoice:
        a.type = c.name == "statecode"    ? AttributeType::kState
                 : c.name == "statuscode" ? AttributeType::kStatus
                                          : AttributeType::kPicklist;
        if (c.choices != nullptr) {
          for (const auto& o : c.choices->options) {
            a.options.push_back({o.code, std::string(o.label)});
          }
        }
        break;
      case state::ColumnType::kLookup:
        a.type = AttributeType::kLookup;
        if (c.lookup_table) a.targets.push_back(std::string(state::Table(*c.lookup_table).name));
        break;
    }
    e.attributes.push_back(std::move(a));
  }
  return e;
}

// The name of an attribute in answers and $select.
std::string WireName(const AttributeDef& a) {
  return a.type == AttributeType::kLookup ? "_" + a.logical_name + "_value" : a.logical_name;
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  return Dump({{"error", {{"code", code}, {"message", message}}}});
}

// ---------------------------------------------------------------------------
// Requests and answers.

struct Request {
  std::string method;
  std::string target;  // raw
  std::string path;    // decoded
  std::string raw_query;
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> Param(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (EqualsIgnoreCase(k, name)) return v;
    }
    return std::nullopt;
  }
  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (EqualsIgnoreCase(k, name)) return v;
    }
    return std::nullopt;
  }
  // Every Prefer preference, over all Prefer headers.
  std::vector<std::string> Preferences() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
      if (!EqualsIgnoreCase(k, "prefer")) continue;
      for (auto p : Split(v, ',')) out.push_back(Trim(p));
    }
    return out;
  }
  // The raw query without the given (decoded) keys, "&"-joined.
  std::string QueryWithout(std::initializer_list<std::string_view> drop) const {
    std::string out;
    if (raw_query.empty()) return out;
    for (auto part : Split(raw_query, '&')) {
      if (part.empty()) continue;
      const std::string key = PercentDecode(part.substr(0, part.find('=')), true);
      bool keep = true;
      for (auto d : drop) keep = keep && !EqualsIgnoreCase(key, d);
      if (!keep) continue;
      if (!out.empty()) out += '&';
      out += part;
    }
    return out;
  }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json; odata.metadata=minimal";

  static Response Json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response Error(int status, std::string_view code, std::string_view message) {
    return Json(status, ErrorBody(code, message));
  }
};

enum class Kind { kToken, kEntitySet, kDelta, kMetadata, kCount, kControl, kOther };

// What a paging cookie carries between pages.
struct Cookie {
  int page = 1;
  char mode = 's';    // s: plain read, i: initial track-changes read, d: delta read
  std::string after;  // last primary key (s, i) or last version (d)
  int64_t from = 0;   // d: changes after this version
  int64_t to = 0;     // i, d: the version the read is consistent with
};

std::string EncodeCookie(const Cookie& c) {
  const std::string paging = "mode=" + std::string(1, c.mode) + "&after=" + PercentEncode(c.after) +
                             "&from=" + std::to_string(c.from) + "&to=" + std::to_string(c.to);
  return "<cookie pagenumber=\"" + std::to_string(c.page) + "\" pagingcookie=\"" +
         PercentEncode(paging) + "\" istracking=\"" + (c.mode == 's' ? "False" : "True") + "\" />";
}

std::optional<std::string> XmlAttr(std::string_view xml, std::string_view name) {
  const std::string needle = std::string(name) + "=\"";
  const size_t start = xml.find(needle);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t value = start + needle.size();
  const size_t end = xml.find('"', value);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(xml.substr(value, end - value));
}

std::optional<Cookie> DecodeCookie(std::string_view token) {
  auto page = XmlAttr(token, "pagenumber");
  auto paging = XmlAttr(token, "pagingcookie");
  if (!page || !paging) return std::nullopt;
  Cookie c;
  try {
    c.page = std::stoi(*page);
    const std::string decoded = PercentDecode(*paging, false);  // outlives the views
    for (auto part : Split(decoded, '&')) {
      const size_t eq = part.find('=');
      if (eq == std::string_view::npos) return std::nullopt;
      const auto key = part.substr(0, eq);
      const std::string value = PercentDecode(part.substr(eq + 1), false);
      if (key == "mode" && value.size() == 1) c.mode = value[0];
      if (key == "after") c.after = value;
      if (key == "from") c.from = std::stoll(value);
      if (key == "to") c.to = std::stoll(value);
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (c.mode != 's' && c.mode != 'i' && c.mode != 'd') return std::nullopt;
  return c;
}

// ---------------------------------------------------------------------------
// Webhook sender pieces.

struct WebhookJob {
  int webhook = 0;
  WebhookDef def;
  std::string message, entity, id, correlation_id, body;
  int attempt = 1;
};

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }

int AbortWhenStopping(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

std::once_flag curl_once;

}  // namespace

// ===========================================================================

class DataverseEmulator::Impl {
 public:
  explicit Impl(DataverseEmulatorOptions options);
  ~Impl() { Stop(); }
  void Stop();

  // Data
  Status DefineEntity(EntityDef def);
  Result<std::vector<std::string>> Write(const std::string& entity, const std::vector<json>& rows,
                                         const std::string& message);
  Result<int64_t> RowCount(const std::string& entity);

  // Faults (under mu_)
  struct Faults {
    int throttle = 0;
    int retry_after = 1;
    int server_error = 0;
    int server_status = 503;
    int refuse_token = 0;
    int malformed = 0;
    int truncated = 0;
    std::chrono::milliseconds slow{0};
    std::chrono::milliseconds body_pause{0};
  };

  DataverseEmulatorOptions options_;
  int port_ = 0;
  int listen_fd_ = -1;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};  // stopping_, for curl's progress callback
  Faults faults_;
  EmulatorCounters counters_;
  std::string state_db_;
  std::unordered_map<std::string, SteadyClock::time_point> tokens_;  // token -> expiry
  struct DeltaToken {
    int64_t serial = 0;
    std::chrono::system_clock::time_point issued;
  };
  std::unordered_map<std::string, DeltaToken> delta_tokens_;
  int64_t next_delta_serial_ = 1;
  int64_t delta_expired_below_ = 0;
  std::vector<std::pair<int, WebhookDef>> webhooks_;
  int next_webhook_ = 1;
  std::vector<WebhookAttempt> attempts_;
  std::deque<WebhookJob> jobs_;
  std::multimap<SteadyClock::time_point, WebhookJob> delayed_jobs_;

  // The store (under store_mu_).
  mutable std::mutex store_mu_;
  std::unique_ptr<state::Db> store_;
  std::map<std::string, EntityDef> entities_;         // by logical name
  std::map<std::string, std::string> entity_by_set_;  // set -> logical name
  std::atomic<int64_t> version_{0};

  // Connections.
  struct Conn {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex conn_mu_;
  std::list<std::unique_ptr<Conn>> conns_;
  std::thread acceptor_;
  std::thread sender_;

  void AcceptLoop();
  void Serve(Conn* conn);
  bool ReadRequest(int fd, std::string& buf, Request& req, bool& keep_alive, bool& bad);
  Response Handle(const Request& req, Kind& kind, bool& data_request);
  bool SendResponse(int fd, Response r, bool data_request, bool keep_alive);
  bool Sleep(std::chrono::milliseconds d);  // false when stopped meanwhile

  Response HandleToken(const Request& req, std::string_view tenant);
  std::optional<Response> CheckAuth(const Request& req);
  Response HandleData(const Request& req, std::string_view rest, Kind& kind);
  Response HandleStateTable(const Request& req, const state::TableDef& table);
  Response HandleEntitySet(const Request& req, const EntityDef& entity, Kind& kind);
  Response HandleMetadata(const Request& req, std::string_view rest);
  Response HandleCount(const Request& req, std::string_view rest);
  Response HandleControl(const Request& req, std::string_view rest);

  std::string IssueDeltaToken(int64_t version);
  bool DeltaTokenExpired(const std::string& token, int64_t* version);
  std::optional<EntityDef> FindEntity(std::string_view logical_name);

  void SenderLoop();
  void Enqueue(const EntityDef& e, const std::string& message, const std::string& id,
               const json& row);
  WebhookAttempt Post(const WebhookJob& job);
};

DataverseEmulator::Impl::Impl(DataverseEmulatorOptions options) : options_(std::move(options)) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  state_db_ = options_.state_db;
  auto db = state::Db::Open(options_.store.empty() ? ":memory:" : options_.store,
                            state::Db::Mode::kReadWriteCreate, state::Db::Journal::kWal);
  if (!db.ok()) {
    std::fprintf(stderr, "DataverseEmulator: cannot open store: %s\n", db.message().c_str());
    std::abort();
  }
  store_ = std::move(*db);
  Status s = store_->Exec(
      "CREATE TABLE IF NOT EXISTS emu_entity(logical_name TEXT PRIMARY KEY, def TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS emu_row(entity TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT "
      "NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(entity, "
      "id)) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS emu_row_version ON emu_row(entity, version);");
  if (s.ok()) {
    auto max = store_->CachedInt("SELECT COALESCE(MAX(version), 0) FROM emu_row");
    if (max.ok()) version_ = *max;
    auto st = store_->Prepare("SELECT def FROM emu_entity");
    if (st.ok()) {
      while (st->Step()) {
        auto def = EntityFromJson(json::parse(st->Text(0), nullptr, false));
        if (!def.ok()) continue;
        entity_by_set_[def->entity_set_name] = def->logical_name;
        entities_[def->logical_name] = *def;
      }
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "DataverseEmulator: cannot set up store: %s\n", s.message().c_str());
    std::abort();
  }

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  socklen_t len = sizeof addr;
  int one = 1;
  if (listen_fd_ >= 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("DataverseEmulator: cannot listen on 127.0.0.1");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  sender_ = std::thread([this] { SenderLoop(); });
}

void DataverseEmulator::Impl::Stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_flag_ = true;
    cv_.notify_all();
  }
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard lk(conn_mu_);
    for (auto& c : conns_) {
      if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
    }
  }
  // No new connection comes now; the list is only read below.
  for (auto& c : conns_) {
    if (c->thread.joinable()) c->thread.join();
  }
  conns_.clear();
  if (sender_.joinable()) sender_.join();
  ::close(listen_fd_);
}

bool DataverseEmulator::Impl::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  return !cv_.wait_for(lk, d, [this] { return stopping_; });
}

void DataverseEmulator::Impl::AcceptLoop() {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    {
      std::lock_guard lk(mu_);
      if (stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
    }
    if (fd < 0) continue;
    std::lock_guard lk(conn_mu_);
    // Reap the connections that ended.
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    Conn* raw = conn.get();
    conns_.push_back(std::move(conn));
    raw->thread = std::thread([this, raw] { Serve(raw); });
  }
}

bool DataverseEmulator::Impl::ReadRequest(int fd, std::string& buf, Request& req, bool& keep_alive,
                                          bool& bad) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(kMaxRequestBody);
  parser.header_limit(64 * 1024);
  boost::beast::error_code ec;
  bool sent_continue = false;
  while (true) {
    if (!buf.empty()) {
      const size_t used = parser.put(boost::asio::buffer(buf.data(), buf.size()), ec);
      buf.erase(0, used);
      if (!ec) {
        if (parser.is_done()) break;
        if (used > 0) continue;
      } else if (ec != bhttp::error::need_more) {
        bad = true;
        return false;
      }
    }
    if (parser.is_header_done() && !sent_continue &&
        EqualsIgnoreCase(std::string_view(parser.get()[bhttp::field::expect].data(),
                                          parser.get()[bhttp::field::expect].size()),
                         "100-continue")) {
      // The client waits for this before it sends the body.
      sent_continue = true;
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      if (::send(fd, k100.data(), k100.size(), MSG_NOSIGNAL) <= 0) return false;
    }
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
  }
  auto msg = parser.release();
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const size_t q = req.target.find('?');
  req.path = PercentDecode(std::string_view(req.target).substr(0, q), false);
  if (q != std::string::npos) {
    req.raw_query = req.target.substr(q + 1);
    for (auto part : Split(req.raw_query, '&')) {
      if (part.empty()) continue;
      const size_t eq = part.find('=');
      req.query.emplace_back(
          PercentDecode(part.substr(0, eq), true),
          eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1), false));
    }
  }
  for (const auto& field : msg) {
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  keep_alive = msg.keep_alive();
  return true;
}

void DataverseEmulator::Impl::Serve(Conn* conn) {
  const int fd = conn->fd;
  std::string buf;
  while (true) {
    Request req;
    bool keep_alive = true, bad = false;
    if (!ReadRequest(fd, buf, req, keep_alive, bad)) {
      if (bad) {
        SendResponse(fd, Response::Error(400, "0x0", "malformed HTTP request"), false, false);
      }
      break;
    }
    Kind kind = Kind::kOther;
    bool data_request = false;
    Response r = Handle(req, kind, data_request);
    if (!SendResponse(fd, std::move(r), data_request, keep_alive) || !keep_alive) break;
  }
  {
    std::lock_guard lk(conn_mu_);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    conn->fd = -1;
  }
  conn->done = true;
}

bool DataverseEmulator::Impl::SendResponse(int fd, Response r, bool data_request, bool keep_alive) {
  bool truncate = false;
  std::chrono::milliseconds slow{0}, pause{0};
  if (data_request) {
    std::lock_guard lk(mu_);
    if (faults_.malformed > 0) {
      --faults_.malformed;
      ++counters_.faults;
      r.status = 200;
      r.body = R"({"@odata.context":"x","value":[{"a":1,})";
    } else if (faults_.truncated > 0) {
      --faults_.truncated;
      ++counters_.faults;
      r.status = 200;
      truncate = true;
    }
    slow = faults_.slow;
    pause = faults_.body_pause;
  }
  if (slow.count() > 0 && !Sleep(slow)) return false;

  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " +
                     std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(r.status))) +
                     "\r\n";
  head += "Server: linkwatch-dataverse-emulator\r\n";
  if (!r.body.empty() || r.status != 204) head += "Content-Type: " + r.content_type + "\r\n";
  for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
  head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (!keep_alive || truncate) head += "Connection: close\r\n";
  head += "\r\n";

  auto send_all = [fd](std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  };
  std::string_view body = r.body;
  if (truncate) body = body.substr(0, body.size() / 2);
  if (pause.count() == 0) {
    if (!send_all(head + std::string(body))) return false;
  } else {
    if (!send_all(head)) return false;
    for (size_t off = 0; off < body.size(); off += 1024) {
      if (off > 0 && !Sleep(pause)) return false;
      if (!send_all(body.substr(off, 1024))) return false;
    }
  }
  return !truncate;
}

Response DataverseEmulator::Impl::Handle(const Request& req, Kind& kind, bool& data_request) {
  Response r;
  const std::string_view path = req.path;
  if (StartsWith(path, kControlPrefix)) {
    kind = Kind::kControl;
    r = HandleControl(req, path.substr(kControlPrefix.size()));
  } else if (StartsWith(path, kApiPrefix)) {
    data_request = true;
    r = HandleData(req, path.substr(kApiPrefix.size()), kind);
  } else {
    // /{tenant}/oauth2/v2.0/token
    constexpr std::string_view kTokenSuffix = "/oauth2/v2.0/token";
    if (path.size() > kTokenSuffix.size() + 1 &&
        path.substr(path.size() - kTokenSuffix.size()) == kTokenSuffix) {
      kind = Kind::kToken;
      r = HandleToken(req, path.substr(1, path.size() - kTokenSuffix.size() - 1));
    } else {
      r = Response::Error(404, "0x80060888",
                          "Resource not found for the segment '" + std::string(path) + "'.");
    }
  }
  std::lock_guard lk(mu_);
  ++counters_.total;
  switch (kind) {
    case Kind::kToken:
      ++counters_.token;
      break;
    case Kind::kEntitySet:
      ++counters_.entity_set_page;
      break;
    case Kind::kDelta:
      ++counters_.delta_page;
      break;
    case Kind::kMetadata:
      ++counters_.metadata;
      break;
    case Kind::kCount:
      ++counters_.count_function;
      break;
    case Kind::kControl:
      ++counters_.control;
      break;
    case Kind::kOther:
      ++counters_.other;
      break;
  }
  return r;
}

// ---------------------------------------------------------------------------
// Token endpoint.

Response DataverseEmulator::Impl::HandleToken(const Request& req, std::string_view tenant) {
  auto entra_error = [](int status, std::string error, int code, std::string description) {
    description = "AADSTS" + std::to_string(code) + ": " + description + " Trace ID: " + NewGuid() +
                  " Correlation ID: " + NewGuid() + " Timestamp: " +
                  FormatTime(std::chrono::system_clock::now(), "%Y-%m-%d %H:%M:%SZ");
    Response r = Response::Json(status, Dump({{"error", error},
                                              {"error_description", description},
                                              {"error_codes", {code}},
                                              {"timestamp", IsoNow()},
                                              {"trace_id", NewGuid()},
                                              {"correlation_id", NewGuid()}}));
    r.content_type = "application/json; charset=utf-8";
    return r;
  };
  if (req.method != "POST") {
    return entra_error(405, "invalid_request", 900561,
                       "The endpoint only accepts POST, OPTIONS requests. Received a GET request.");
  }
  std::map<std::string, std::string> form;
  for (auto part : Split(req.body, '&')) {
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    form[PercentDecode(part.substr(0, eq), true)] =
        eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
  }
  {
    std::lock_guard lk(mu_);
    if (faults_.refuse_token > 0) {
      --faults_.refuse_token;
      ++counters_.faults;
      return entra_error(401, "invalid_client", 7000215,
                         "Invalid client secret provided. Ensure the secret being sent in the "
                         "request is the client secret value, not the client secret ID, for a "
                         "secret added to app '" +
                             options_.client_id + "'.");
    }
  }
  if (tenant != options_.tenant_id) {
    return entra_error(400, "invalid_request", 90002,
                       "Tenant '" + std::string(tenant) +
                           "' not found. Check to make sure you have the correct tenant ID and "
                           "are signing into the correct cloud.");
  }
  if (form["grant_type"] != "client_credentials") {
    return entra_error(400, "unsupported_grant_type", 70003,
                       "The app requested an unsupported grant type '" + form["grant_type"] + "'.");
  }
  if (form["client_id"] != options_.client_id) {
    return entra_error(400, "unauthorized_client", 700016,
                       "Application with identifier '" + form["client_id"] +
                           "' was not found in the directory '" + options_.tenant_id + "'.");
  }
  if (form["client_secret"] != options_.client_secret) {
    return entra_error(401, "invalid_client", 7000215,
                       "Invalid client secret provided. Ensure the secret being sent in the "
                       "request is the client secret value, not the client secret ID, for a "
                       "secret added to app '" +
                           options_.client_id + "'.");
  }
  if (form["scope"].empty()) {
    return entra_error(400, "invalid_scope", 1002012,
                       "The provided value for scope is not valid. Client credential flows "
                       "must have a scope value with /.default suffixed to the resource "
                       "identifier (application ID URI).");
  }
  const std::string token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + RandomHex(24);
  {
    std::lock_guard lk(mu_);
    tokens_[token] = SteadyClock::now() + options_.token_lifetime;
  }
  const auto lifetime = options_.token_lifetime.count();
  Response r = Response::Json(200, Dump({{"token_type", "Bearer"},
                                         {"expires_in", lifetime},
                                         {"ext_expires_in", lifetime},
                                         {"access_token", token}}));
  r.content_type = "application/json; charset=utf-8";
  return r;
}

std::optional<Response> DataverseEmulator::Impl::CheckAuth(const Request& req) {
  auto auth = req.Header("authorization");
  std::string problem;
  if (!auth) {
    problem = "Bearer token is missing.";
  } else if (auth->size() < 7 || !EqualsIgnoreCase(auth->substr(0, 7), "bearer ")) {
    problem = "Authorization header is not a Bearer token.";
  } else {
    const std::string token = Trim(auth->substr(7));
    std::lock_guard lk(mu_);
    auto it = tokens_.find(token);
    if (it == tokens_.end()) {
      problem = "The token is not valid (unknown or revoked).";
    } else if (SteadyClock::now() >= it->second) {
      problem = "The token is expired.";
    } else {
      return std::nullopt;
    }
  }
  Response r = Response::Error(401, "0x80072560",
                               "The user is not a member of the organization. " + problem);
  r.headers.emplace_back(
      "WWW-Authenticate",
      "Bearer authorization_uri=http://127.0.0.1:" + std::to_string(port_) + "/" +
          options_.tenant_id +
          "/oauth2/authorize, resource_id=http://127.0.0.1:" + std::to_string(port_) + "/");
  return r;
}

// ---------------------------------------------------------------------------
// Data requests.

Response DataverseEmulator::Impl::HandleData(const Request& req, std::string_view rest,
                                             Kind& kind) {
  // Classify first, so that a refused request still counts as its kind.
  const std::string segment(rest.substr(0, rest.find_first_of("(/")));
  const state::TableDef* table = nullptr;
  std::optional<EntityDef> entity;
  if (segment == "EntityDefinitions") {
    kind = Kind::kMetadata;
  } else if (segment == "RetrieveTotalRecordCount") {
    kind = Kind::kCount;
  } else {
    for (const auto& t : state::AllTables()) {
      if (t.entity_set == segment) table = &t;
    }
    if (table == nullptr) {
      std::lock_guard lk(store_mu_);
      auto it = entity_by_set_.find(segment);
      if (it != entity_by_set_.end()) entity = entities_.at(it->second);
    }
    if (table != nullptr || entity) {
      kind = Kind::kEntitySet;
      if (req.Param("$deltatoken")) kind = Kind::kDelta;
      if (auto st = req.Param("$skiptoken")) {
        auto c = DecodeCookie(*st);
        if (c && c->mode == 'd') kind = Kind::kDelta;
      }
    }
  }
  if (auto refused = CheckAuth(req)) return *refused;
  {
    std::lock_guard lk(mu_);
    if (faults_.throttle > 0) {
      --faults_.throttle;
      ++counters_.faults;
      Response r = Response::Error(
          429, "0x80072322",
          "Number of requests exceeded the limit of 6000 over time window of 300 seconds.");
      r.headers.emplace_back("Retry-After", std::to_string(faults_.retry_after));
      return r;
    }
    if (faults_.server_error > 0) {
      --faults_.server_error;
      ++counters_.faults;
      return Response::Error(
          faults_.server_status, "0x80040216",
          "An unexpected error occurred (emulated " + std::to_string(faults_.server_status) + ").");
    }
  }
  if (req.method != "GET") {
    return Response::Error(
        405, "0x80060888",
        "The emulator serves GET only on /api/data/v9.2/ (got " + req.method + ").");
  }
  Response r;
  if (kind == Kind::kMetadata) {
    r = HandleMetadata(req, rest);
  } else if (kind == Kind::kCount) {
    r = HandleCount(req, rest);
  } else if (table != nullptr) {
    r = HandleStateTable(req, *table);
  } else if (entity) {
    r = HandleEntitySet(req, *entity, kind);
  } else {
    r = Response::Error(404, "0x80060888", "Resource not found for the segment '" + segment + "'.");
  }
  r.headers.emplace_back("OData-Version", "4.0");
  return r;
}

namespace {

struct Paging {
  int page_size = kMaxPageSize;
  bool size_asked = false;
  bool track_changes = false;
};

Paging PagingOf(const Request& req) {
  Paging p;
  for (const auto& pref : req.Preferences()) {
    if (EqualsIgnoreCase(pref, "odata.track-changes")) p.track_changes = true;
    constexpr std::string_view kMax = "odata.maxpagesize=";
    if (pref.size() > kMax.size() && EqualsIgnoreCase(pref.substr(0, kMax.size()), kMax)) {
      try {
        p.page_size = std::clamp(std::stoi(pref.substr(kMax.size())), 1, kMaxPageSize);
        p.size_asked = true;
      } catch (const std::exception&) {
      }
    }
  }
  return p;
}

// $select's names, or nullopt without $select.
std::optional<std::vector<std::string>> SelectOf(const Request& req) {
  auto select = req.Param("$select");
  if (!select) return std::nullopt;
  std::vector<std::string> out;
  for (auto s : Split(*select, ',')) {
    std::string name = Trim(s);
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(std::move(name));
    }
  }
  return out;
}

std::optional<std::string> UnsupportedOption(const Request& req) {
  for (const char* o : {"$filter", "$orderby", "$expand", "$top", "$apply", "$search"}) {
    if (req.Param(o)) return std::string(o);
  }
  return std::nullopt;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

Response DataverseEmulator::Impl::HandleStateTable(const Request& req,
                                                   const state::TableDef& table) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  const std::string type_name = "Microsoft.Dynamics.CRM." + std::string(table.name);
  const Paging paging = PagingOf(req);
  if (auto o = UnsupportedOption(req)) {
    return Response::Error(400, "0x0",
                           "The query option " + *o + " is not supported by the emulator.");
  }
  // Which columns, by wire name.
  auto wire = [](const state::ColumnDef& c) {
    return c.type == state::ColumnType::kLookup ? "_" + std::string(c.name) + "_value"
                                                : std::string(c.name);
  };
  std::vector<const state::ColumnDef*> wanted;
  auto select = SelectOf(req);
  if (select) {
    wanted.push_back(&table.columns[0]);
    for (const auto& name : *select) {
      const state::ColumnDef* found = nullptr;
      for (const auto& c : table.columns) {
        if (wire(c) == name) found = &c;
      }
      if (found == nullptr) {
        return Response::Error(
            400, "0x0",
            "Could not find a property named '" + name + "' on type '" + type_name + "'.");
      }
      if (std::find(wanted.begin(), wanted.end(), found) == wanted.end()) wanted.push_back(found);
    }
  } else {
    for (const auto& c : table.columns) wanted.push_back(&c);
  }
  std::optional<Cookie> cookie;
  if (auto st = req.Param("$skiptoken")) {
    cookie = DecodeCookie(*st);
    if (!cookie) return Response::Error(400, "0x80040203", "The $skiptoken is not valid.");
  }
  if (paging.track_changes) {
    return Response::Error(
        400, "0x80072491",
        "Entity '" + std::string(table.name) + "' is not enabled for change tracking.");
  }

  std::string path;
  {
    std::lock_guard lk(mu_);
    path = state_db_;
  }
  if (path.empty()) {
    return Response::Error(404, "0x80060888",
                           "Resource not found for the segment '" + std::string(table.entity_set) +
                               "' (no state file configured).");
  }
  auto db = state::Db::Open(path, state::Db::Mode::kReadOnly, state::Db::Journal::kAsIs);
  if (!db.ok()) return Response::Error(500, "0x80040216", "cannot read the state: " + db.message());
  // Columns of the file.
  std::set<std::string> present;
  {
    auto info = (*db)->Prepare("PRAGMA table_info(\"" + std::string(table.name) + "\")");
    if (!info.ok()) return Response::Error(500, "0x80040216", info.message());
    while (info->Step()) present.insert(AsciiToLower(info->Text(1)));
    if (!info->status().ok()) return Response::Error(500, "0x80040216", info->status().message());
  }
  std::vector<const state::ColumnDef*> columns;
  for (const auto* c : wanted) {
    if (present.count(std::string(c->name))) columns.push_back(c);
  }
  const bool has_key = present.count(std::string(table.columns[0].name)) > 0;
  const bool has_version = present.count("versionnumber") > 0;
  const std::string key_expr = has_key ? "\"" + std::string(table.columns[0].name) + "\"" : "rowid";

  ojson rows = ojson::array();
  bool more = false;
  std::string last_key;
  if (!present.empty()) {
    std::string sql = "SELECT " + key_expr + ", " +
                      (has_version ? std::string("versionnumber") : std::string("rowid"));
    for (const auto* c : columns) sql += ", \"" + std::string(c->name) + "\"";
    sql += " FROM \"" + std::string(table.name) + "\"";
    if (cookie) sql += " WHERE " + key_expr + " > ?";
    sql += " ORDER BY " + key_expr + " LIMIT ?";
    auto st = (*db)->Prepare(sql);
    if (!st.ok()) return Response::Error(500, "0x80040216", st.message());
    int bind = 1;
    if (cookie) {
      if (has_key) {
        st->Bind(bind++, cookie->after);
      } else {
        st->Bind(bind++, static_cast<int64_t>(std::atoll(cookie->after.c_str())));
      }
    }
    st->Bind(bind, static_cast<int64_t>(paging.page_size) + 1);
    int n = 0;
    while (st->Step()) {
      if (++n > paging.page_size) {
        more = true;
        break;
      }
      last_key = st->Text(0);
      ojson row = ojson::object();
      row["@odata.etag"] = "W/\"" + st->Text(1) + "\"";
      for (size_t i = 0; i < columns.size(); ++i) {
        const int col = static_cast<int>(i) + 2;
        const auto& c = *columns[i];
        const std::string name = wire(c);
        const int type = st->Type(col);
        if (type == 5) {
          row[name] = nullptr;
          continue;
        }
        const std::string text = st->Text(col);
        switch (c.type) {
          case state::ColumnType::kGuid:
            row[name] = AsciiToLower(text);
            break;
          case state::ColumnType::kInt:
          case state::ColumnType::kChoice:
            if (type == 1) {
              row[name] = st->Int(col);
            } else {
              row[name] = text;
            }
            break;
          case state::ColumnType::kBool:
            if (type == 1 && (st->Int(col) == 0 || st->Int(col) == 1)) {
              row[name] = st->Int(col) == 1;
            } else {
              row[name] = text;
            }
            break;
          default:
            row[name] = text;
            break;
        }
      }
      rows.push_back(std::move(row));
    }
    if (!st->status().ok()) return Response::Error(500, "0x80040216", st->status().message());
  }

  std::vector<std::string> names;
  for (const auto* c : columns) names.push_back(wire(*c));
  ojson answer = ojson::object();
  answer["@odata.context"] = base + "/api/data/v9.2/$metadata#" + std::string(table.entity_set) +
                             (select ? "(" + JoinNames(*select) + ")" : "");
  answer["value"] = std::move(rows);
  if (more) {
    Cookie next;
    next.page = (cookie ? cookie->page : 1) + 1;
    next.after = last_key;
    const std::string kept = req.QueryWithout({"$skiptoken"});
    answer["@odata.nextLink"] = base + "/api/data/v9.2/" + std::string(table.entity_set) + "?" +
                                kept + (kept.empty() ? "" : "&") +
                                "$skiptoken=" + PercentEncode(EncodeCookie(next));
  }
  Response r = Response::Json(200, DumpOrdered(answer));
  if (paging.size_asked) {
    r.headers.emplace_back("Preference-Applied",
                           "odata.maxpagesize=" + std::to_string(paging.page_size));
  }
  return r;
}

std::string DataverseEmulator::Impl::IssueDeltaToken(int64_t version) {
  const auto now = std::chrono::system_clock::now();
  const std::string token = std::to_string(version) + "!" + FormatTime(now, "%m/%d/%Y %H:%M:%S");
  std::lock_guard lk(mu_);
  delta_tokens_[token] = DeltaToken{next_delta_serial_++, now};
  return token;
}

bool DataverseEmulator::Impl::DeltaTokenExpired(const std::string& token, int64_t* version) {
  const size_t bang = token.find('!');
  try {
    *version = std::stoll(token.substr(0, bang));
  } catch (const std::exception&) {
    return true;
  }
  if (bang == std::string::npos) return true;
  DeltaToken info;
  {
    std::lock_guard lk(mu_);
    auto it = delta_tokens_.find(token);
    if (it != delta_tokens_.end()) {
      info = it->second;
    } else {
      // Issued by an earlier run on the same store: its date says when.
      std::tm tm{};
      if (std::sscanf(token.c_str() + bang + 1, "%d/%d/%d %d:%d:%d", &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
        return true;
      }
      tm.tm_mon -= 1;
      tm.tm_year -= 1900;
      info.issued = std::chrono::system_clock::from_time_t(timegm(&tm));
    }
    if (info.serial < delta_expired_below_) return true;
  }
  if (*version > version_.load()) return true;
  return std::chrono::system_clock::now() - info.issued >= options_.delta_token_retention;
}

Response DataverseEmulator::Impl::HandleEntitySet(const Request& req, const EntityDef& entity,
                                                  Kind& kind) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  const std::string type_name = "Microsoft.Dynamics.CRM." + entity.logical_name;
  const Paging paging = PagingOf(req);
  auto delta_param = req.Param("$deltatoken");
  std::optional<Cookie> cookie;
  if (auto st = req.Param("$skiptoken")) {
    cookie = DecodeCookie(*st);
    if (!cookie) return Response::Error(400, "0x80040203", "The $skiptoken is not valid.");
  }
  const bool tracking = paging.track_changes || delta_param || (cookie && cookie->mode != 's');
  if (tracking && !entity.change_tracking) {
    return Response::Error(
        400, "0x80072491",
        "Entity '" + entity.logical_name + "' is not enabled for change tracking.");
  }
  if (auto o = UnsupportedOption(req)) {
    if (tracking) {
      return Response::Error(400, "0x80060888",
                             "The query parameter " + *o +
                                 " is not supported with change tracking (odata.track-changes).");
    }
    return Response::Error(400, "0x0",
                           "The query option " + *o + " is not supported by the emulator.");
  }
  // Attributes, by wire name.
  std::vector<const AttributeDef*> wanted;
  auto select = SelectOf(req);
  const AttributeDef* key_attr = nullptr;
  for (const auto& a : entity.attributes) {
    if (a.logical_name == entity.primary_id) key_attr = &a;
  }
  if (select) {
    if (key_attr != nullptr) wanted.push_back(key_attr);
    for (const auto& name : *select) {
      const AttributeDef* found = nullptr;
      for (const auto& a : entity.attributes) {
        if (WireName(a) == name) found = &a;
      }
      if (found == nullptr) {
        return Response::Error(
            400, "0x0",
            "Could not find a property named '" + name + "' on type '" + type_name + "'.");
      }
      if (std::find(wanted.begin(), wanted.end(), found) == wanted.end()) wanted.push_back(found);
    }
  } else {
    for (const auto& a : entity.attributes) wanted.push_back(&a);
  }

  Cookie state;
  if (cookie) {
    state = *cookie;
  } else if (delta_param) {
    int64_t from = 0;
    if (DeltaTokenExpired(*delta_param, &from)) {
      return Response::Error(
          400, "0x80044352",
          "Version stamp associated with the client has expired. Please perform a full sync.");
    }
    state.mode = 'd';
    state.from = from;
    state.after = std::to_string(from);
    state.to = version_.load();
  } else if (tracking) {
    state.mode = 'i';
    state.to = version_.load();
  }
  if (state.mode == 'd') kind = Kind::kDelta;

  const std::string context_base = base + "/api/data/v9.2/$metadata#" + entity.entity_set_name;
  ojson rows = ojson::array();
  bool more = false;
  std::string last;
  {
    std::lock_guard lk(store_mu_);
    state::Statement* st;
    if (state.mode == 'd') {
      st = store_->Cached(
          "SELECT id, data, version, deleted FROM emu_row WHERE entity = ? AND version > ? AND "
          "version <= ? ORDER BY version LIMIT ?");
      st->Bind(1, entity.logical_name)
          .Bind(2, static_cast<int64_t>(std::atoll(state.after.c_str())))
          .Bind(3, state.to)
          .Bind(4, static_cast<int64_t>(paging.page_size) + 1);
    } else {
      st = store_->Cached(
          "SELECT id, data, version, deleted FROM emu_row WHERE entity = ? AND deleted = 0 AND "
          "id > ? ORDER BY id LIMIT ?");
      st->Bind(1, entity.logical_name)
          .Bind(2, state.after)
          .Bind(3, static_cast<int64_t>(paging.page_size) + 1);
    }
    int n = 0;
    while (st->Step()) {
      if (++n > paging.page_size) {
        more = true;
        break;
      }
      const std::string id = st->Text(0);
      last = state.mode == 'd' ? std::to_string(st->Int(2)) : id;
      if (st->Int(3) != 0) {
        ojson deleted = ojson::object();
        deleted["@odata.context"] = context_base + "/$deletedEntity";
        deleted["id"] = id;
        deleted["reason"] = "deleted";
        rows.push_back(std::move(deleted));
        continue;
      }
      const ojson data = ojson::parse(st->TextView(1), nullptr, false);
      ojson row = ojson::object();
      row["@odata.etag"] = "W/\"" + std::to_string(st->Int(2)) + "\"";
      for (const auto* a : wanted) {
        auto it = data.is_object() ? data.find(a->logical_name) : data.end();
        row[WireName(*a)] = (it == data.end()) ? ojson(nullptr) : *it;
      }
      rows.push_back(std::move(row));
    }
    const Status status = st->status();
    st->Reset();
    if (!status.ok()) return Response::Error(500, "0x80040216", status.message());
  }

  ojson answer = ojson::object();
  answer["@odata.context"] = context_base + (select ? "(" + JoinNames(*select) + ")" : "") +
                             (state.mode == 'd' ? "/$delta" : "");
  answer["value"] = std::move(rows);
  const std::string kept = req.QueryWithout({"$skiptoken", "$deltatoken"});
  const std::string link_base =
      base + "/api/data/v9.2/" + entity.entity_set_name + "?" + kept + (kept.empty() ? "" : "&");
  if (more) {
    Cookie next = state;
    next.page = state.page + 1;
    next.after = last;
    answer["@odata.nextLink"] = link_base + "$skiptoken=" + PercentEncode(EncodeCookie(next));
  } else if (state.mode != 's') {
    answer["@odata.deltaLink"] =
        link_base + "$deltatoken=" + PercentEncode(IssueDeltaToken(state.to));
  }
  Response r = Response::Json(200, DumpOrdered(answer));
  std::string applied;
  if (tracking) applied = "odata.track-changes";
  if (paging.size_asked) {
    applied += (applied.empty() ? "" : ", ") + std::string("odata.maxpagesize=") +
               std::to_string(paging.page_size);
  }
  if (!applied.empty()) r.headers.emplace_back("Preference-Applied", applied);
  return r;
}

std::optional<EntityDef> DataverseEmulator::Impl::FindEntity(std::string_view logical_name) {
  {
    std::lock_guard lk(store_mu_);
    auto it = entities_.find(std::string(logical_name));
    if (it != entities_.end()) return it->second;
  }
  if (const auto* t = state::FindTable(logical_name)) return StateEntityDef(*t);
  return std::nullopt;
}

namespace {

json Label(const std::string& text) {
  json l = {{"Label", text},
            {"LanguageCode", 1033},
            {"IsManaged", true},
            {"MetadataId", NameGuid("label:" + text)},
            {"HasChanged", nullptr}};
  return {{"LocalizedLabels", json::array({l})}, {"UserLocalizedLabel", l}};
}

std::string SchemaName(const std::string& logical) {
  std::string s = logical;
  if (!s.empty()) s[0] = AsciiToUpper(s[0]);
  return s;
}

json OptionSetJson(const EntityDef& e, const AttributeDef& a) {
  json options = json::array();
  for (const auto& o : a.options) {
    json jo = {{"Value", o.value},
               {"Color", nullptr},
               {"IsManaged", true},
               {"ExternalValue", ""},
               {"ParentValues", json::array()},
               {"MetadataId", nullptr},
               {"HasChanged", nullptr},
               {"Label", Label(o.label)},
               {"Description", Label("")}};
    if (a.type == AttributeType::kStatus) {
      jo["@odata.type"] = "#Microsoft.Dynamics.CRM.StatusOptionMetadata";
      if (o.state >= 0) jo["State"] = o.state;
    }
    if (a.type == AttributeType::kState)
      jo["@odata.type"] = "#Microsoft.Dynamics.CRM.StateOptionMetadata";
    options.push_back(std::move(jo));
  }
  const char* type = a.type == AttributeType::kState    ? "State"
                     : a.type == AttributeType::kStatus ? "Status"
                                                        : "Picklist";
  return {{"MetadataId", NameGuid("optionset:" + e.logical_name + "." + a.logical_name)},
          {"Name", e.logical_name + "_" + a.logical_name},
          {"IsGlobal", false},
          {"OptionSetType", type},
          {"Options", options}};
}

json AttributeJson(const EntityDef& e, const AttributeDef& a, int column) {
  const TypeInfo& info = InfoOf(a.type);
  json j = {{"@odata.type", std::string("#Microsoft.Dynamics.CRM.") + info.odata_type},
            {"MetadataId", NameGuid("attribute:" + e.logical_name + "." + a.logical_name)},
            {"LogicalName", a.logical_name},
            {"SchemaName", SchemaName(a.logical_name)},
            {"EntityLogicalName", e.logical_name},
            {"AttributeType", info.name},
            {"AttributeTypeName", {{"Value", std::string(info.name) + "Type"}}},
            {"AttributeOf", nullptr},
            {"ColumnNumber", column},
            {"IsPrimaryId", a.logical_name == e.primary_id},
            {"IsPrimaryName", a.logical_name == e.primary_name},
            {"IsValidForRead", true},
            {"IsValidODataAttribute", true},
            {"IsLogical", false},
            {"IsCustomAttribute", false},
            {"RequiredLevel",
             {{"Value", a.logical_name == e.primary_id ? "SystemRequired" : "None"},
              {"CanBeChanged", true},
              {"ManagedPropertyLogicalName", "canmodifyrequirementlevelsettings"}}},
            {"DisplayName", Label(a.logical_name)}};
  switch (a.type) {
    case AttributeType::kString:
      j["MaxLength"] = a.max_length > 0 ? a.max_length : 100;
      j["DatabaseLength"] = 2 * j["MaxLength"].get<int>();
      j["Format"] = "Text";
      j["FormatName"] = {{"Value", "Text"}};
      break;
    case AttributeType::kMemo:
      j["MaxLength"] = a.max_length > 0 ? a.max_length : 2000;
      j["DatabaseLength"] = 2 * j["MaxLength"].get<int>();
      j["Format"] = "TextArea";
      j["FormatName"] = {{"Value", "TextArea"}};
      break;
    case AttributeType::kInteger:
      j["MinValue"] = -2147483648LL;
      j["MaxValue"] = 2147483647LL;
      j["Format"] = "None";
      break;
    case AttributeType::kBigInt:
      j["MinValue"] = std::numeric_limits<int64_t>::min();
      j["MaxValue"] = std::numeric_limits<int64_t>::max();
      break;
    case AttributeType::kDecimal:
      j["Precision"] = a.precision;
      j["MinValue"] = -100000000000.0;
      j["MaxValue"] = 100000000000.0;
      j["ImeMode"] = "Auto";
      break;
    case AttributeType::kDouble:
      j["Precision"] = a.precision;
      j["MinValue"] = -100000000000.0;
      j["MaxValue"] = 100000000000.0;
      j["ImeMode"] = "Auto";
      break;
    case AttributeType::kMoney:
      j["Precision"] = a.precision;
      j["PrecisionSource"] = 2;
      j["MinValue"] = -922337203685477.0;
      j["MaxValue"] = 922337203685477.0;
      j["IsBaseCurrency"] = false;
      break;
    case AttributeType::kBoolean:
      j["DefaultValue"] = false;
      break;
    case AttributeType::kDateTime:
      j["Format"] = "DateAndTime";
      j["DateTimeBehavior"] = {{"Value", "UserLocal"}};
      j["MinSupportedValue"] = "1753-01-01T00:00:00Z";
      j["MaxSupportedValue"] = "9999-12-30T23:59:59Z";
      break;
    case AttributeType::kLookup:
      j["Targets"] = a.targets;
      j["Format"] = "None";
      break;
    case AttributeType::kPicklist:
    case AttributeType::kState:
    case AttributeType::kStatus:
      j["DefaultFormValue"] = -1;
      break;
    case AttributeType::kUniqueidentifier:
      break;
  }
  return j;
}

}  // namespace

Response DataverseEmulator::Impl::HandleMetadata(const Request& /*req*/, std::string_view rest) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  // EntityDefinitions(LogicalName='account')[/Attributes[/Microsoft.Dynamics.CRM.<T>]]
  constexpr std::string_view kKey = "EntityDefinitions(LogicalName=";
  if (!StartsWith(rest, kKey)) {
    return Response::Error(400, "0x0",
                           "The emulator serves EntityDefinitions(LogicalName='<name>') only.");
  }
  const size_t close = rest.find(')');
  if (close == std::string_view::npos) return Response::Error(400, "0x0", "Bad key segment.");
  std::string name(rest.substr(kKey.size(), close - kKey.size()));
  if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"')) {
    name = name.substr(1, name.size() - 2);
  }
  const std::string_view tail = rest.substr(close + 1);
  auto entity = FindEntity(name);
  if (!entity) {
    return Response::Error(404, "0x80040217",
                           "Could not find an entity with name '" + name +
                               "' (EntityDefinitions(LogicalName='" + name + "')).");
  }
  json attributes = json::array();
  int column = 1;
  for (const auto& a : entity->attributes)
    attributes.push_back(AttributeJson(*entity, a, column++));
  if (tail.empty()) {
    json answer = {{"@odata.context",
                    base + "/api/data/v9.2/$metadata#EntityDefinitions(Attributes())/$entity"},
                   {"MetadataId", NameGuid("entity:" + entity->logical_name)},
                   {"LogicalName", entity->logical_name},
                   {"SchemaName", SchemaName(entity->logical_name)},
                   {"EntitySetName", entity->entity_set_name},
                   {"LogicalCollectionName", entity->entity_set_name},
                   {"PrimaryIdAttribute", entity->primary_id},
                   {"PrimaryNameAttribute", entity->primary_name},
                   {"ChangeTrackingEnabled", entity->change_tracking},
                   {"IsCustomEntity", false},
                   {"IsActivity", false},
                   {"ObjectTypeCode", 1},
                   {"OwnershipType", "UserOwned"},
                   {"DisplayName", Label(entity->logical_name)},
                   {"Attributes", attributes}};
    return Response::Json(200, Dump(answer));
  }
  if (tail == "/Attributes") {
    return Response::Json(
        200, Dump({{"@odata.context", base + "/api/data/v9.2/$metadata#EntityDefinitions('" +
                                          entity->logical_name + "')/Attributes"},
                   {"value", attributes}}));
  }
  if (tail == "/ManyToOneRelationships") {
    // One relationship per lookup and target; the referenced column is the
    // target's primary id (activityid for an activity table).
    json value = json::array();
    for (const auto& a : entity->attributes) {
      for (const auto& target : a.targets) {
        auto referenced = FindEntity(target);
        value.push_back(
            {{"SchemaName", entity->logical_name + "_" + a.logical_name + "_" + target},
             {"ReferencingEntity", entity->logical_name},
             {"ReferencingAttribute", a.logical_name},
             {"ReferencedEntity", target},
             {"ReferencedAttribute", referenced ? referenced->primary_id : target + "id"}});
      }
    }
    return Response::Json(
        200, Dump({{"@odata.context", base + "/api/data/v9.2/$metadata#EntityDefinitions('" +
                                          entity->logical_name + "')/ManyToOneRelationships"},
                   {"value", value}}));
  }
  constexpr std::string_view kCast = "/Attributes/Microsoft.Dynamics.CRM.";
  if (StartsWith(tail, kCast)) {
    const std::string cast(tail.substr(kCast.size()));
    std::optional<AttributeType> type;
    for (const auto& i : kTypes) {
      if (cast == i.odata_type) type = i.type;
    }
    if (!type) {
      return Response::Error(
          404, "0x80060888",
          "Resource not found for the segment 'Microsoft.Dynamics.CRM." + cast + "'.");
    }
    json value = json::array();
    for (const auto& a : entity->attributes) {
      if (a.type != *type) continue;
      json j = {
          {"LogicalName", a.logical_name},
          {"MetadataId", NameGuid("attribute:" + entity->logical_name + "." + a.logical_name)}};
      if (HasOptions(a.type)) j["OptionSet"] = OptionSetJson(*entity, a);
      value.push_back(std::move(j));
    }
    return Response::Json(
        200, Dump({{"@odata.context", base + "/api/data/v9.2/$metadata#EntityDefinitions('" +
                                          entity->logical_name + "')/Attributes/" +
                                          "Microsoft.Dynamics.CRM." + cast},
                   {"value", value}}));
  }
  return Response::Error(404, "0x80060888",
                         "Resource not found for the segment '" + std::string(tail) + "'.");
}

Response DataverseEmulator::Impl::HandleCount(const Request& req, std::string_view rest) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  const size_t open = rest.find("EntityNames=");
  const size_t close = rest.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Response::Error(400, "0x0", "RetrieveTotalRecordCount needs the parameter EntityNames.");
  }
  std::string arg(rest.substr(open + 12, close - open - 12));
  if (!arg.empty() && arg[0] == '@') {
    auto alias = req.Param(arg);
    if (!alias) {
      return Response::Error(400, "0x0", "The parameter alias " + arg + " has no value.");
    }
    arg = *alias;
  }
  arg = Trim(arg);
  if (arg.size() < 2 || arg.front() != '[' || arg.back() != ']') {
    return Response::Error(400, "0x0", "EntityNames must be a list like ['account'].");
  }
  json keys = json::array(), values = json::array();
  for (auto part : Split(std::string_view(arg).substr(1, arg.size() - 2), ',')) {
    std::string name = Trim(part);
    if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"')) {
      name = name.substr(1, name.size() - 2);
    }
    if (name.empty()) continue;
    int64_t count = 0;
    bool business;
    {
      std::lock_guard lk(store_mu_);
      business = entities_.count(name) > 0;
    }
    if (business) {
      auto c = RowCount(name);
      if (!c.ok()) return Response::Error(500, "0x80040216", c.message());
      count = *c;
    } else if (state::FindTable(name) != nullptr) {
      std::string path;
      {
        std::lock_guard lk(mu_);
        path = state_db_;
      }
      auto db = state::Db::Open(path, state::Db::Mode::kReadOnly, state::Db::Journal::kAsIs);
      if (db.ok()) {
        auto c = (*db)->CachedInt("SELECT COUNT(*) FROM \"" + name + "\"");
        if (c.ok()) count = *c;
      }
    } else {
      return Response::Error(404, "0x80040217",
                             "The entity with a name = '" + name +
                                 "' with namemapping = 'Logical' was not found in the "
                                 "MetadataCache.");
    }
    keys.push_back(name);
    values.push_back(count);
  }
  return Response::Json(
      200,
      Dump(
          {{"@odata.context",
            base +
                "/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse"},
           {"EntityRecordCountCollection",
            {{"Count", keys.size()}, {"IsReadOnly", false}, {"Keys", keys}, {"Values", values}}}}));
}

// ---------------------------------------------------------------------------
// The store.

Status DataverseEmulator::Impl::DefineEntity(EntityDef def) {
  if (def.logical_name.empty()) return Status::Error("entity without a logical name");
  if (def.entity_set_name.empty()) def.entity_set_name = def.logical_name + "s";
  if (def.primary_id.empty()) def.primary_id = def.logical_name + "id";
  for (const auto& t : state::AllTables()) {
    if (t.entity_set == def.entity_set_name || t.name == def.logical_name) {
      return Status::Error("entity " + def.logical_name + " clashes with a state table");
    }
  }
  bool has_key = false;
  std::set<std::string> seen;
  for (const auto& a : def.attributes) {
    if (!seen.insert(a.logical_name).second) {
      return Status::Error("entity " + def.logical_name + ": attribute " + a.logical_name +
                           " defined twice");
    }
    has_key = has_key || a.logical_name == def.primary_id;
  }
  if (!has_key) {
    AttributeDef key;
    key.logical_name = def.primary_id;
    key.type = AttributeType::kUniqueidentifier;
    def.attributes.insert(def.attributes.begin(), key);
  }
  std::lock_guard lk(store_mu_);
  auto other = entity_by_set_.find(def.entity_set_name);
  if (other != entity_by_set_.end() && other->second != def.logical_name) {
    return Status::Error("entity set " + def.entity_set_name + " already belongs to " +
                         other->second);
  }
  auto st = store_->Cached("INSERT OR REPLACE INTO emu_entity(logical_name, def) VALUES (?, ?)");
  st->Bind(1, def.logical_name).Bind(2, Dump(EntityToJson(def)));
  if (Status s = st->Run(); !s.ok()) return s;
  auto old = entities_.find(def.logical_name);
  if (old != entities_.end()) entity_by_set_.erase(old->second.entity_set_name);
  entity_by_set_[def.entity_set_name] = def.logical_name;
  entities_[def.logical_name] = std::move(def);
  return Status::Ok();
}

// message: "Create" (rows whole), "Update" (rows are changes with the id),
// "Delete" (rows are {primary id: id}). Returns the ids.
Result<std::vector<std::string>> DataverseEmulator::Impl::Write(const std::string& entity_name,
                                                                const std::vector<json>& rows,
                                                                const std::string& message) {
  std::vector<std::string> ids;
  std::vector<std::pair<std::string, json>> notify;  // id, row (for webhooks)
  EntityDef entity;
  bool any_webhook;
  {
    std::lock_guard lk(mu_);
    any_webhook = !webhooks_.empty();
  }
  {
    std::lock_guard lk(store_mu_);
    auto it = entities_.find(entity_name);
    if (it == entities_.end()) return Status::Error("unknown entity " + entity_name);
    entity = it->second;
    std::map<std::string, const AttributeDef*> by_name;
    for (const auto& a : entity.attributes) {
      by_name[a.logical_name] = &a;
      by_name[WireName(a)] = &a;
    }
    const bool has_version = by_name.count("versionnumber") > 0;
    const bool has_created = by_name.count("createdon") > 0;
    const bool has_modified = by_name.count("modifiedon") > 0;
    const std::string now = IsoNow();

    state::Transaction tx(*store_);
    if (!tx.status().ok()) return tx.status();
    state::Statement* get =
        store_->Cached("SELECT data, deleted FROM emu_row WHERE entity = ? AND id = ?");
    state::Statement* put = store_->Cached(
        "INSERT OR REPLACE INTO emu_row(entity, id, data, version, deleted) VALUES (?, ?, ?, ?, "
        "?)");
    int64_t version = version_.load();
    for (const auto& in : rows) {
      if (!in.is_object())
        return Status::Error(message + " " + entity_name + ": a row is not an object");
      // By logical name.
      json row = json::object();
      for (const auto& [k, v] : in.items()) {
        auto a = by_name.find(k);
        if (a == by_name.end()) {
          return Status::Error(message + " " + entity_name + ": unknown attribute " + k);
        }
        row[a->second->logical_name] = v;
      }
      std::string id;
      bool given_id = false;
      if (auto k = row.find(entity.primary_id); k != row.end() && k->is_string()) {
        id = AsciiToLower(k->get<std::string>());
        given_id = true;
      } else if (message == "Create") {
        id = NewGuid();
      } else {
        return Status::Error(message + " " + entity_name + ": row without " + entity.primary_id);
      }
      row[entity.primary_id] = id;
      json current;
      bool exists = false;
      if (!(message == "Create" && !given_id)) {  // a fresh GUID is not there yet
        get->Bind(1, entity_name).Bind(2, id);
        if (get->Step()) {
          exists = get->Int(1) == 0;
          if (exists && message == "Update") {
            current = json::parse(get->TextView(0), nullptr, false);
          }
        }
        const Status gs = get->status();
        get->Reset();
        if (!gs.ok()) return gs;
      }
      if (message == "Create" && exists) {
        return Status::Error("Create " + entity_name + ": " + id + " exists already");
      }
      if (message != "Create" && !exists) {
        return Status::Error(message + " " + entity_name + ": no row " + id);
      }
      ++version;
      json data;
      bool deleted = false;
      if (message == "Delete") {
        data = json::object({{entity.primary_id, id}});
        deleted = true;
      } else {
        data = message == "Update" ? current : json::object();
        if (!data.is_object()) data = json::object();
        for (auto& [k, v] : row.items()) data[k] = v;
        if (has_version) data["versionnumber"] = version;
        if (has_created && message == "Create" && !row.contains("createdon"))
          data["createdon"] = now;
        if (has_modified && !row.contains("modifiedon")) data["modifiedon"] = now;
      }
      put->Bind(1, entity_name)
          .Bind(2, id)
          .Bind(3, Dump(data))
          .Bind(4, version)
          .Bind(5, deleted ? 1 : 0);
      if (Status s = put->Run(); !s.ok()) return s;
      put->Reset();
      ids.push_back(id);
      if (any_webhook) notify.emplace_back(id, message == "Delete" ? json() : std::move(data));
    }
    if (Status s = tx.Commit(); !s.ok()) return s;
    version_ = version;
  }
  if (any_webhook) {
    for (const auto& [id, row] : notify) Enqueue(entity, message, id, row);
  }
  return ids;
}

Result<int64_t> DataverseEmulator::Impl::RowCount(const std::string& entity) {
  std::lock_guard lk(store_mu_);
  if (!entities_.count(entity)) return Status::Error("unknown entity " + entity);
  auto st = store_->Cached("SELECT COUNT(*) FROM emu_row WHERE entity = ? AND deleted = 0");
  st->Bind(1, entity);
  int64_t n = 0;
  if (st->Step()) n = st->Int(0);
  const Status s = st->status();
  st->Reset();
  if (!s.ok()) return s;
  return n;
}

// ---------------------------------------------------------------------------
// Webhooks.

void DataverseEmulator::Impl::Enqueue(const EntityDef& e, const std::string& message,
                                      const std::string& id, const json& row) {
  const std::string correlation = NewGuid();
  const std::string org_id = NameGuid("organization:" + options_.organization);
  json target;
  if (message == "Delete") {
    target = {{"__type", "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts"},
              {"Id", id},
              {"KeyAttributes", json::array()},
              {"LogicalName", e.logical_name},
              {"Name", nullptr},
              {"RowVersion", nullptr}};
  } else {
    json attributes = json::array();
    if (row.is_object()) {
      for (const auto& [k, v] : row.items()) attributes.push_back({{"key", k}, {"value", v}});
    }
    target = {{"__type", "Entity:http://schemas.microsoft.com/xrm/2011/Contracts"},
              {"Attributes", attributes},
              {"EntityState", nullptr},
              {"FormattedValues", json::array()},
              {"Id", id},
              {"KeyAttributes", json::array()},
              {"LogicalName", e.logical_name},
              {"RelatedEntities", json::array()},
              {"RowVersion", row.is_object() && row.contains("versionnumber")
                                 ? json(Dump(row.at("versionnumber")))
                                 : json(nullptr)}};
  }
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string user = NameGuid("user:linkwatch");
  json body = {
      {"BusinessUnitId", NameGuid("businessunit:" + options_.organization)},
      {"CorrelationId", correlation},
      {"Depth", 1},
      {"InitiatingUserAzureActiveDirectoryObjectId", NameGuid("aad:linkwatch")},
      {"InitiatingUserId", user},
      {"InputParameters", json::array({{{"key", "Target"}, {"value", target}}})},
      {"IsExecutingOffline", false},
      {"IsInTransaction", false},
      {"IsOfflinePlayback", false},
      {"IsolationMode", 1},
      {"MessageName", message},
      {"Mode", 1},
      {"OperationCreatedOn", "/Date(" + std::to_string(now_ms) + ")/"},
      {"OperationId", NewGuid()},
      {"OrganizationId", org_id},
      {"OrganizationName", options_.organization},
      {"OutputParameters",
       message == "Create" ? json::array({{{"key", "id"}, {"value", id}}}) : json::array()},
      {"OwningExtension",
       {{"Id", NameGuid("step:linkwatch")},
        {"KeyAttributes", json::array()},
        {"LogicalName", "sdkmessageprocessingstep"},
        {"Name", "linkwatch webhook: " + message + " of " + e.logical_name},
        {"RowVersion", nullptr}}},
      {"ParentContext", nullptr},
      {"PostEntityImages", json::array()},
      {"PreEntityImages", json::array()},
      {"PrimaryEntityId", id},
      {"PrimaryEntityName", e.logical_name},
      {"RequestId", NewGuid()},
      {"SecondaryEntityName", "none"},
      {"SharedVariables", json::array()},
      {"Stage", 40},
      {"UserAzureActiveDirectoryObjectId", NameGuid("aad:linkwatch")},
      {"UserId", user}};
  const std::string text = Dump(body);
  std::lock_guard lk(mu_);
  for (const auto& [n, w] : webhooks_) {
    if (!w.entity.empty() && w.entity != e.logical_name) continue;
    WebhookJob job;
    job.webhook = n;
    job.def = w;
    job.message = message;
    job.entity = e.logical_name;
    job.id = id;
    job.correlation_id = correlation;
    job.body = text;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

WebhookAttempt DataverseEmulator::Impl::Post(const WebhookJob& job) {
  WebhookAttempt a;
  a.webhook = job.webhook;
  a.message = job.message;
  a.entity = job.entity;
  a.id = job.id;
  a.correlation_id = job.correlation_id;
  a.attempt = job.attempt;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    a.error = "curl_easy_init failed";
    return a;
  }
  std::string url = job.def.url;
  curl_slist* headers = nullptr;
  auto add = [&](const std::string& h) { headers = curl_slist_append(headers, h.c_str()); };
  add("Content-Type: application/json");
  add("x-ms-dynamics-organization: " + options_.organization);
  add("x-ms-dynamics-entity-name: " + job.entity);
  add("x-ms-dynamics-request-name: " + job.message);
  add("x-ms-correlation-request-id: " + job.correlation_id);
  add("Expect:");
  if (job.def.key_in_query) {
    url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("code=") +
           PercentEncode(job.def.key);
  } else if (!job.def.key.empty()) {
    add("x-linkwatch-key: " + job.def.key);
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, job.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(job.body.size()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.webhook_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, AbortWhenStopping);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stop_flag_);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    a.status = static_cast<int>(status);
  } else {
    a.error = error[0] != 0 ? error : curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return a;
}

void DataverseEmulator::Impl::SenderLoop() {
  while (true) {
    WebhookJob job;
    {
      std::unique_lock lk(mu_);
      while (true) {
        if (stopping_) return;
        if (!jobs_.empty()) {
          job = std::move(jobs_.front());
          jobs_.pop_front();
          break;
        }
        if (!delayed_jobs_.empty() && delayed_jobs_.begin()->first <= SteadyClock::now()) {
          job = std::move(delayed_jobs_.begin()->second);
          delayed_jobs_.erase(delayed_jobs_.begin());
          break;
        }
        if (delayed_jobs_.empty()) {
          cv_.wait(lk);
        } else {
          cv_.wait_until(lk, delayed_jobs_.begin()->first);
        }
      }
    }
    WebhookAttempt a = Post(job);
    std::lock_guard lk(mu_);
    if (job.attempt == 1 && (a.status == 502 || a.status == 503 || a.status == 504)) {
      WebhookJob retry = job;
      retry.attempt = 2;
      delayed_jobs_.emplace(SteadyClock::now() + options_.webhook_retry_delay, std::move(retry));
    }
    attempts_.push_back(std::move(a));
    cv_.notify_all();
  }
}

// ---------------------------------------------------------------------------
// Control API.

Response DataverseEmulator::Impl::HandleControl(const Request& req, std::string_view rest) {
  auto ok = [](json j = json::object()) { return Response::Json(200, Dump(j)); };
  auto bad = [](const std::string& m) { return Response::Error(400, "0x0", m); };
  json body = json::object();
  if (!req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return bad("the body is not JSON");
  }
  auto count = [&](int fallback) {
    return body.is_object() ? body.value("count", fallback) : fallback;
  };
  const std::string path(rest);
  const bool get = req.method == "GET";
  try {
    if (get && path == "counters") {
      EmulatorCounters c;
      {
        std::lock_guard lk(mu_);
        c = counters_;
      }
      return ok({{"token", c.token},
                 {"entity_set_page", c.entity_set_page},
                 {"delta_page", c.delta_page},
                 {"metadata", c.metadata},
                 {"count_function", c.count_function},
                 {"control", c.control},
                 {"other", c.other},
                 {"faults", c.faults},
                 {"total", c.total}});
    }
    if (get && path == "health") {
      return ok(
          {{"url", "http://127.0.0.1:" + std::to_string(port_)}, {"version", version_.load()}});
    }
    if (get && path == "webhooks/attempts") {
      json out = json::array();
      std::lock_guard lk(mu_);
      for (const auto& a : attempts_) {
        out.push_back({{"webhook", a.webhook},
                       {"message", a.message},
                       {"entity", a.entity},
                       {"id", a.id},
                       {"correlation_id", a.correlation_id},
                       {"attempt", a.attempt},
                       {"status", a.status},
                       {"error", a.error}});
      }
      return ok(out);
    }
    if (req.method != "POST") return Response::Error(405, "0x0", "use POST (or GET for reads)");
    if (path == "counters/reset") {
      std::lock_guard lk(mu_);
      counters_ = {};
      return ok();
    }
    if (path == "faults/throttle") {
      std::lock_guard lk(mu_);
      faults_.throttle = count(1);
      faults_.retry_after = body.value("retry_after", 1);
      return ok();
    }
    if (path == "faults/server_error") {
      std::lock_guard lk(mu_);
      faults_.server_error = count(1);
      faults_.server_status = body.value("status", 503);
      return ok();
    }
    if (path == "faults/revoke_tokens") {
      std::lock_guard lk(mu_);
      tokens_.clear();
      return ok();
    }
    if (path == "faults/refuse_token") {
      std::lock_guard lk(mu_);
      faults_.refuse_token = count(1);
      return ok();
    }
    if (path == "faults/expire_delta_tokens") {
      std::lock_guard lk(mu_);
      delta_expired_below_ = next_delta_serial_;
      return ok();
    }
    if (path == "faults/malformed") {
      std::lock_guard lk(mu_);
      faults_.malformed = count(1);
      return ok();
    }
    if (path == "faults/truncated") {
      std::lock_guard lk(mu_);
      faults_.truncated = count(1);
      return ok();
    }
    if (path == "faults/slow") {
      std::lock_guard lk(mu_);
      faults_.slow = std::chrono::milliseconds(body.value("ms", 0));
      faults_.body_pause = std::chrono::milliseconds(body.value("body_pause_ms", 0));
      return ok();
    }
    if (path == "faults/clear") {
      std::lock_guard lk(mu_);
      faults_ = {};
      return ok();
    }
    if (path == "state_db") {
      std::lock_guard lk(mu_);
      state_db_ = body.value("path", "");
      return ok();
    }
    if (path == "entities") {
      auto def = EntityFromJson(body);
      if (!def.ok()) return bad(def.message());
      if (Status s = DefineEntity(*def); !s.ok()) return bad(s.message());
      return ok();
    }
    if (path == "webhooks") {
      WebhookDef w;
      w.url = body.at("url").get<std::string>();
      w.key = body.value("key", "");
      w.entity = body.value("entity", "");
      w.key_in_query = body.value("key_in_query", false);
      std::lock_guard lk(mu_);
      const int id = next_webhook_++;
      webhooks_.emplace_back(id, std::move(w));
      return ok({{"id", id}});
    }
    if (path == "webhooks/clear") {
      std::lock_guard lk(mu_);
      webhooks_.clear();
      return ok();
    }
    // entities/<name>/rows | update | delete
    if (StartsWith(path, "entities/")) {
      const std::string tail = path.substr(9);
      const size_t slash = tail.find('/');
      if (slash == std::string::npos) return bad("unknown control path " + path);
      const std::string entity = tail.substr(0, slash);
      const std::string verb = tail.substr(slash + 1);
      std::vector<json> rows;
      if (body.is_array()) {
        for (auto& r : body) rows.push_back(std::move(r));
      } else {
        rows.push_back(std::move(body));
      }
      std::string message;
      if (verb == "rows") {
        message = "Create";
      } else if (verb == "update") {
        message = "Update";
      } else if (verb == "delete") {
        message = "Delete";
        auto def = FindEntity(entity);
        if (!def) return bad("unknown entity " + entity);
        for (auto& r : rows) {
          if (r.is_string()) r = json::object({{def->primary_id, r}});
        }
      } else {
        return bad("unknown control path " + path);
      }
      auto ids = Write(entity, std::move(rows), message);
      if (!ids.ok()) return bad(ids.message());
      return ok({{"ids", *ids}, {"version", version_.load()}});
    }
  } catch (const json::exception& e) {
    return bad(std::string("bad request body: ") + e.what());
  }
  return Response::Error(404, "0x0", "unknown control path /_emulator/" + path);
}

// ===========================================================================
// The public face.

DataverseEmulator::DataverseEmulator(DataverseEmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

DataverseEmulator::~DataverseEmulator() { impl_->Stop(); }

int DataverseEmulator::port() const { return impl_->port_; }

std::string DataverseEmulator::Url() const { return "http://127.0.0.1:" + std::to_string(port()); }

std::string DataverseEmulator::ApiBase() const { return Url() + std::string(kApiPrefix); }

void DataverseEmulator::SetStateDb(std::string path) {
  std::lock_guard lk(impl_->mu_);
  impl_->state_db_ = std::move(path);
}

Status DataverseEmulator::DefineEntity(EntityDef def) {
  return impl_->DefineEntity(std::move(def));
}

Result<std::string> DataverseEmulator::Create(const std::string& entity, nlohmann::json row) {
  std::vector<json> rows;
  rows.push_back(std::move(row));
  auto ids = impl_->Write(entity, std::move(rows), "Create");
  if (!ids.ok()) return ids.status();
  return ids->front();
}

Status DataverseEmulator::Update(const std::string& entity, const std::string& id,
                                 const nlohmann::json& changes) {
  auto def = impl_->FindEntity(entity);
  if (!def) return Status::Error("unknown entity " + entity);
  json row = changes;
  row[def->primary_id] = id;
  std::vector<json> rows;
  rows.push_back(std::move(row));
  return impl_->Write(entity, std::move(rows), "Update").status();
}

Status DataverseEmulator::Delete(const std::string& entity, const std::string& id) {
  auto def = impl_->FindEntity(entity);
  if (!def) return Status::Error("unknown entity " + entity);
  std::vector<json> rows;
  rows.push_back(json::object({{def->primary_id, id}}));
  return impl_->Write(entity, std::move(rows), "Delete").status();
}

Status DataverseEmulator::BulkCreate(const std::string& entity,
                                     const std::vector<nlohmann::json>& rows) {
  return impl_->Write(entity, rows, "Create").status();
}

Result<int64_t> DataverseEmulator::RowCount(const std::string& entity) {
  return impl_->RowCount(entity);
}

int64_t DataverseEmulator::CurrentVersion() const { return impl_->version_.load(); }

void DataverseEmulator::Throttle(int n, int retry_after_s) {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_.throttle = n;
  impl_->faults_.retry_after = retry_after_s;
}

void DataverseEmulator::ServerError(int n, int status) {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_.server_error = n;
  impl_->faults_.server_status = status;
}

void DataverseEmulator::RevokeTokens() {
  std::lock_guard lk(impl_->mu_);
  impl_->tokens_.clear();
}

void DataverseEmulator::RefuseToken(int n) {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_.refuse_token = n;
}

void DataverseEmulator::ExpireDeltaTokens() {
  std::lock_guard lk(impl_->mu_);
  impl_->delta_expired_below_ = impl_->next_delta_serial_;
}

void DataverseEmulator::Malformed(int n) {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_.malformed = n;
}

void DataverseEmulator::Truncated(int n) {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_.truncated = n;
}

void DataverseEmulator::Slow(std::chrono::milliseconds delay,
                             std::chrono::milliseconds body_pause) {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_.slow = delay;
  impl_->faults_.body_pause = body_pause;
}

void DataverseEmulator::ClearFaults() {
  std::lock_guard lk(impl_->mu_);
  impl_->faults_ = {};
}

EmulatorCounters DataverseEmulator::Counters() const {
  std::lock_guard lk(impl_->mu_);
  return impl_->counters_;
}

void DataverseEmulator::ResetCounters() {
  std::lock_guard lk(impl_->mu_);
  impl_->counters_ = {};
}

int DataverseEmulator::AddWebhook(WebhookDef webhook) {
  std::lock_guard lk(impl_->mu_);
  const int id = impl_->next_webhook_++;
  impl_->webhooks_.emplace_back(id, std::move(webhook));
  return id;
}

void DataverseEmulator::RemoveWebhooks() {
  std::lock_guard lk(impl_->mu_);
  impl_->webhooks_.clear();
}

std::vector<WebhookAttempt> DataverseEmulator::WebhookAttempts() const {
  std::lock_guard lk(impl_->mu_);
  return impl_->attempts_;
}

bool DataverseEmulator::WaitForWebhookAttempts(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(impl_->mu_);
  return impl_->cv_.wait_for(lk, timeout, [&] { return impl_->attempts_.size() >= n; });
}

void DataverseEmulator::Stop() { impl_->Stop(); }

}  // namespace linkwatch::fakes
