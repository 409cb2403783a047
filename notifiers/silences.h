// Silences: Alertmanager's silences (matchers with =, !=, =~, !~, a start, an
// end, who and why), persisted in the state store (linkwatch_silences), so
// they survive a restart. The silencer stage of the notifier pipeline: the
// router asks Muted() when a group is flushed, before a notification is
// created. The HTTP API (/api/v1/silences, the Alertmanager API v2 subset)
// and `linkwatch silence` go through Set, Expire and List.
//
// Semantics follow Alertmanager 0.25: a silence is pending before startsAt,
// active until endsAt, expired after; expiring sets endsAt to now (a pending
// silence ends before it began); a new silence starting in the past starts
// now; Set with the id of a pending or active silence with the same matchers
// updates it in place, otherwise the old one is expired and a new id made.
// Expired silences are kept for 120 h (the API shows them), then dropped.
//
// Thread-safe: the API threads mutate, the watcher thread asks Muted; one
// mutex guards the silences and their own state-store connection.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/status.h"
#include "notifiers/matcher.h"
#include "notifiers/muter.h"

namespace linkwatch::state {
class Db;
}

namespace linkwatch::notifiers {

struct Silence {
  std::string id;  // empty for a new silence
  std::vector<Matcher> matchers;
  double starts_at = 0;  // epoch seconds
  double ends_at = 0;
  double updated_at = 0;
  std::string created_by;
  std::string comment;

  // "pending", "active" or "expired" at `now`.
  const char* StateAt(double now) const;
  bool Matches(const LabelSet& labels) const { return MatchAll(matchers, labels); }
};

// Alertmanager API v2 gettableSilence: {id, status: {state}, updatedAt,
// matchers: [{name, value, isRegex, isEqual}], startsAt, endsAt, createdBy,
// comment}.
nlohmann::json SilenceToJson(const Silence& s, double now);
// A postableSilence body: {id?, matchers, startsAt, endsAt, createdBy,
// comment}. Matchers are {name, value, isRegex, isEqual (default true)}
// objects, or strings such as 'severity="critical"'. Errors say which field.
Result<Silence> SilenceFromJson(const nlohmann::json& body);
// One matcher of a silence body: {name, value, isRegex, isEqual (default
// true)}, or a string such as 'severity="critical"'.
Result<Matcher> MatcherFromJson(const nlohmann::json& j);
// Alertmanager's filter for listing silences: every filter matcher matches
// the labels made of the silence's own matchers (name -> value).
bool SilenceMatchesFilter(const Silence& s, const std::vector<Matcher>& filter);

class Silences final : public Muter {
 public:
  // Opens its own connection to the state store (migrated by the caller's
  // StateStore::Open) and loads the silences, dropping expired ones older
  // than the retention.
  static Result<std::unique_ptr<Silences>> Open(const std::string& state_db, const Clock& clock);
  ~Silences() override;

  // Creates or updates a silence (see above); returns its id. Errors:
  // invalid silence (status "invalid: ..."), unknown id ("not found: ...").
  Result<std::string> Set(Silence s);
  // Expires a pending or active silence now. Errors: unknown id ("not
  // found"), already expired.
  Status Expire(const std::string& id);

  std::vector<Silence> List() const;
  std::optional<Silence> Get(const std::string& id) const;
  // Ids of the active silences that match `labels` at `now`.
  std::vector<std::string> SilencedBy(const LabelSet& labels, TimePoint now) const;
  bool Muted(const Alert& alert, TimePoint now) const override;

 private:
  Silences(std::unique_ptr<state::Db> db, const Clock& clock);
  Status Load();
  Status Store(const Silence& s);  // mu_ held

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unique_ptr<state::Db> db_;
  std::vector<Silence> silences_;
};

}  // namespace linkwatch::notifiers
