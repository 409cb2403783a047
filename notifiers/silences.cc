#include "notifiers/silences.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "agent/core/time_format.h"
#include "agent/state/db.h"

namespace linkwatch::notifiers {
namespace {

// Alertmanager's default data retention.
constexpr double kRetentionSeconds = 120 * 3600;

std::string NewId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi, lo;
  {
    std::lock_guard lk(mu);
    hi = rng();
    lo = rng();
  }
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

nlohmann::json MatcherToJson(const Matcher& m) {
  const bool regex = m.op() == Matcher::Op::kRegex || m.op() == Matcher::Op::kNotRegex;
  const bool equal = m.op() == Matcher::Op::kEqual || m.op() == Matcher::Op::kRegex;
  return {{"name", m.name()}, {"value", m.value()}, {"isRegex", regex}, {"isEqual", equal}};
}

Result<double> TimeField(const nlohmann::json& body, const char* key) {
  if (!body.contains(key) || !body[key].is_string()) {
    return Status::Error(std::string(key) + " is required (RFC 3339, e.g. 2026-01-01T00:00:00Z)");
  }
  auto t = ParseDateTime(body[key].get<std::string>());
  if (!t.ok()) return t.status().WithContext(key);
  // Years 1970 to 9999: what RFC 3339 can write back (found by silence_fuzz).
  constexpr double kYear10000 = 253402300800;
  if (*t < 0 || *t >= kYear10000) {
    return Status::Error(std::string(key) + " must be between 1970 and 9999");
  }
  return *t;
}

bool SameMatchers(const std::vector<Matcher>& a, const std::vector<Matcher>& b) {
  if (a.size() != b.size()) return false;
  std::vector<std::string> x, y;
  for (const auto& m : a) x.push_back(m.ToString());
  for (const auto& m : b) y.push_back(m.ToString());
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return x == y;
}

// Alertmanager's validateSilence (the parts a body can get wrong).
Status Validate(const Silence& s) {
  if (s.matchers.empty()) return Status::Error("invalid: at least one matcher is required");
  const bool all_match_empty = std::all_of(s.matchers.begin(), s.matchers.end(),
                                           [](const Matcher& m) { return m.Matches({}); });
  if (all_match_empty) {
    return Status::Error("invalid: at least one matcher must not match the empty string");
  }
  if (s.ends_at < s.starts_at) return Status::Error("invalid: end time must not be before start");
  return Status::Ok();
}

}  // namespace

Result<Matcher> MatcherFromJson(const nlohmann::json& j) {
  if (j.is_string()) {
    auto list = ParseMatchers(j.get<std::string>());
    if (!list.ok()) return list.status();
    if (list->size() != 1) return Status::Error("one matcher per string, not " + j.dump());
    return list->front();
  }
  if (!j.is_object()) return Status::Error("a matcher is an object {name, value, isRegex}");
  if (!j.contains("name") || !j["name"].is_string()) {
    return Status::Error("a matcher needs a string name");
  }
  if (!j.contains("value") || !j["value"].is_string()) {
    return Status::Error("matcher " + j["name"].get<std::string>() + " needs a string value");
  }
  auto flag = [&](const char* key, bool fallback) -> Result<bool> {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) return Status::Error(std::string(key) + " must be true or false");
    return j[key].get<bool>();
  };
  auto regex = flag("isRegex", false);
  if (!regex.ok()) return regex.status();
  auto equal = flag("isEqual", true);
  if (!equal.ok()) return equal.status();
  const Matcher::Op op = *regex ? (*equal ? Matcher::Op::kRegex : Matcher::Op::kNotRegex)
                                : (*equal ? Matcher::Op::kEqual : Matcher::Op::kNotEqual);
  return Matcher::Make(j["name"].get<std::string>(), op, j["value"].get<std::string>());
}

const char* Silence::StateAt(double now) const {
  if (now < starts_at) return "pending";
  if (now < ends_at) return "active";
  return "expired";
}

nlohmann::json SilenceToJson(const Silence& s, double now) {
  nlohmann::json matchers = nlohmann::json::array();
  for (const auto& m : s.matchers) matchers.push_back(MatcherToJson(m));
  return {{"id", s.id},
          {"status", {{"state", s.StateAt(now)}}},
          {"updatedAt", FormatDateTime(s.updated_at)},
          {"matchers", std::move(matchers)},
          {"startsAt", FormatDateTime(s.starts_at)},
          {"endsAt", FormatDateTime(s.ends_at)},
          {"createdBy", s.created_by},
          {"comment", s.comment}};
}

Result<Silence> SilenceFromJson(const nlohmann::json& body) {
  if (!body.is_object()) return Status::Error("a silence is a JSON object");
  Silence s;
  if (body.contains("id") && !body["id"].is_null()) {
    if (!body["id"].is_string()) return Status::Error("id must be a string");
    s.id = body["id"].get<std::string>();
  }
  if (!body.contains("matchers") || !body["matchers"].is_array()) {
    return Status::Error("matchers is required: a list of {name, value, isRegex, isEqual}");
  }
  for (const auto& m : body["matchers"]) {
    auto matcher = MatcherFromJson(m);
    if (!matcher.ok()) return matcher.status().WithContext("matchers");
    s.matchers.push_back(std::move(matcher).value());
  }
  auto starts = TimeField(body, "startsAt");
  if (!starts.ok()) return starts.status();
  auto ends = TimeField(body, "endsAt");
  if (!ends.ok()) return ends.status();
  s.starts_at = *starts;
  s.ends_at = *ends;
  for (auto [key, field] : {std::pair{"createdBy", &s.created_by}, {"comment", &s.comment}}) {
    if (!body.contains(key) || !body[key].is_string() || body[key].get<std::string>().empty()) {
      return Status::Error(std::string(key) + " is required");
    }
    *field = body[key].get<std::string>();
  }
  if (auto v = Validate(s); !v.ok()) return v;
  return s;
}

bool SilenceMatchesFilter(const Silence& s, const std::vector<Matcher>& filter) {
  LabelSet labels;
  for (const auto& m : s.matchers) labels[m.name()] = m.value();
  return MatchAll(filter, labels);
}

Result<std::unique_ptr<Silences>> Silences::Open(const std::string& state_db, const Clock& clock) {
  auto db = state::Db::Open(state_db);
  if (!db.ok()) return db.status();
  std::unique_ptr<Silences> out(new Silences(std::move(db).value(), clock));
  if (auto s = out->Load(); !s.ok()) return s.WithContext("loading silences");
  return out;
}

Silences::Silences(std::unique_ptr<state::Db> db, const Clock& clock)
    : clock_(clock), db_(std::move(db)) {}

Silences::~Silences() = default;

Status Silences::Load() {
  std::lock_guard lk(mu_);
  const double cutoff = ToEpochSeconds(clock_.Now()) - kRetentionSeconds;
  auto prune = db_->Prepare("DELETE FROM linkwatch_silences WHERE ends_at < ?");
  if (!prune.ok()) return prune.status();
  if (auto s = prune->Bind(1, cutoff).Run(); !s.ok()) return s;
  auto st = db_->Prepare(
      "SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at "
      "FROM linkwatch_silences ORDER BY starts_at, id");
  if (!st.ok()) return st.status();
  while (st->Step()) {
    Silence s;
    s.id = st->Text(0);
    auto matchers = nlohmann::json::parse(st->Text(1), nullptr, false);
    bool ok = matchers.is_array() && !matchers.empty();
    for (const auto& m : ok ? matchers : nlohmann::json::array()) {
      auto parsed = MatcherFromJson(m);
      if (!parsed.ok()) {
        ok = false;
        break;
      }
      s.matchers.push_back(std::move(parsed).value());
    }
    if (!ok) {
      // Never drop silently: a silence that cannot be read mutes nothing.
      spdlog::error("silences: silence {} has unreadable matchers in the state store; ignored",
                    s.id);
      continue;
    }
    s.starts_at = st->Real(2);
    s.ends_at = st->Real(3);
    s.created_by = st->Text(4);
    s.comment = st->Text(5);
    s.updated_at = st->Real(6);
    silences_.push_back(std::move(s));
  }
  return st->status();
}

Status Silences::Store(const Silence& s) {
  nlohmann::json matchers = nlohmann::json::array();
  for (const auto& m : s.matchers) matchers.push_back(MatcherToJson(m));
  state::Statement* st = db_->Cached(
      "INSERT OR REPLACE INTO linkwatch_silences (id, matchers, starts_at, ends_at, created_by, "
      "comment, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (st == nullptr) return Status::Error("silences: " + db_->LastError());
  return st->Bind(1, s.id)
      .Bind(2, matchers.dump())
      .Bind(3, s.starts_at)
      .Bind(4, s.ends_at)
      .Bind(5, s.created_by)
      .Bind(6, s.comment)
      .Bind(7, s.updated_at)
      .Run()
      .WithContext("storing silence " + s.id);
}

Result<std::string> Silences::Set(Silence s) {
  if (auto v = Validate(s); !v.ok()) return v;
  std::lock_guard lk(mu_);
  const double now = ToEpochSeconds(clock_.Now());
  s.updated_at = now;
  if (!s.id.empty()) {
    auto it = std::find_if(silences_.begin(), silences_.end(),
                           [&](const Silence& x) { return x.id == s.id; });
    if (it == silences_.end()) return Status::Error("not found: no silence with id " + s.id);
    const std::string state = it->StateAt(now);
    const bool can_update =
        state != "expired" && SameMatchers(it->matchers, s.matchers) && s.ends_at >= now &&
        (state == "pending" ? s.starts_at >= now : s.starts_at == it->starts_at);
    if (can_update) {
      if (auto st = Store(s); !st.ok()) return st;
      *it = s;
      return s.id;
    }
    if (state != "expired") {
      Silence old = *it;
      old.ends_at = now;
      if (state == "pending") old.starts_at = now;
      old.updated_at = now;
      if (auto st = Store(old); !st.ok()) return st;
      *it = old;
    }
  }
  if (s.ends_at <= now) return Status::Error("invalid: the silence would end in the past");
  if (s.starts_at < now) s.starts_at = now;
  s.id = NewId();
  if (auto st = Store(s); !st.ok()) return st;
  silences_.push_back(s);
  return s.id;
}

Status Silences::Expire(const std::string& id) {
  std::lock_guard lk(mu_);
  const double now = ToEpochSeconds(clock_.Now());
  auto it = std::find_if(silences_.begin(), silences_.end(),
                         [&](const Silence& x) { return x.id == id; });
  if (it == silences_.end()) return Status::Error("not found: no silence with id " + id);
  const std::string state = it->StateAt(now);
  if (state == "expired") return Status::Error("silence " + id + " already expired");
  Silence s = *it;
  s.ends_at = now;
  if (state == "pending") s.starts_at = now;
  s.updated_at = now;
  if (auto st = Store(s); !st.ok()) return st;
  *it = std::move(s);
  return Status::Ok();
}

std::vector<Silence> Silences::List() const {
  std::lock_guard lk(mu_);
  return silences_;
}

std::optional<Silence> Silences::Get(const std::string& id) const {
  std::lock_guard lk(mu_);
  for (const auto& s : silences_) {
    if (s.id == id) return s;
  }
  return std::nullopt;
}

std::vector<std::string> Silences::SilencedBy(const LabelSet& labels, TimePoint now) const {
  const double t = ToEpochSeconds(now);
  std::vector<std::string> ids;
  std::lock_guard lk(mu_);
  for (const auto& s : silences_) {
    if (t >= s.starts_at && t < s.ends_at && s.Matches(labels)) ids.push_back(s.id);
  }
  return ids;
}

bool Silences::Muted(const Alert& alert, TimePoint now) const {
  return !SilencedBy(alert.labels, now).empty();
}

}  // namespace linkwatch::notifiers
