// Router: Alertmanager's dispatcher for linkwatch's alerts. Every alert goes
// to the routes of the tree (route.h) it matches; the router keeps one
// aggregation group per route and group labels, with its timers
// (group_wait, group_interval, repeat_interval), and when a group is due it
// asks the mute stages (muter.h: inhibitor, silences) which alerts to leave
// out and the notification log (nflog.h) whether anything new needs
// sending, then queues the notification in the outbox, the log row in the
// same transaction.
//
// Not thread-safe: one thread (the watcher loop) calls Update, Flush,
// NextFlush, ReceiversFor and Replace. The Outbox it writes to is
// thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/core/clock.h"
#include "notifiers/muter.h"
#include "notifiers/nflog.h"
#include "notifiers/route.h"
#include "rules/alert.h"

namespace linkwatch::notifiers {

class Outbox;
struct ReceiverConfig;

// How the dispatcher treats a receiver's groups (from its ReceiverConfig).
struct ReceiverDispatch {
  bool send_resolved = true;
  // The integration must see every firing alert again within this period
  // (Notifier::ResendInterval, alertmanager forwarding): the receiver's
  // groups are flushed and re-sent at least this often.
  std::optional<Millis> resend_interval;
};
using ReceiverDispatchMap = std::map<std::string, ReceiverDispatch>;
ReceiverDispatchMap DispatchOf(const std::vector<ReceiverConfig>& receivers);

class Router {
 public:
  // Reads the notification log through the outbox's connection.
  Router(RouteConfig route, Outbox& outbox, const Clock& clock, std::string external_url,
         ReceiverDispatchMap receivers);
  ~Router();

  // Called after every evaluation with every alert the engine knows (pending
  // and inactive ones are ignored). An alert the router holds that is no
  // longer reported is taken as resolved now.
  void Update(const std::vector<Alert>& alerts);

  // Flushes groups that are due: creates notifications in the outbox
  // (notification log updated in the same transaction). Returns fingerprints
  // of resolved alerts whose resolution has been queued to every route that
  // held them (the rule engine then forgets them).
  std::vector<std::string> Flush();

  // When Flush next has work (TimePoint::max() when there are no groups).
  TimePoint NextFlush() const;

  // SIGHUP reload: the alerts are regrouped under the new tree (new groups
  // wait group_wait; the notification log keeps them from re-sending).
  void Replace(RouteConfig route, ReceiverDispatchMap receivers);

  // Muters are consulted in order; an alert muted by any is not notified.
  void SetMuters(std::vector<std::shared_ptr<Muter>> muters);

  // The receivers of the routes an alert with these labels goes to, in
  // route order, without repeats (the API's receivers of an alert).
  std::vector<std::string> ReceiversFor(const LabelSet& labels) const;

  // The current groups, for the API and tests.
  struct GroupInfo {
    std::string receiver;
    std::string group_key;
    LabelSet labels;
    std::vector<std::string> fingerprints;
    TimePoint next_flush;
  };
  std::vector<GroupInfo> Groups() const;

 private:
  struct Group {
    int node = 0;
    std::string key;  // route key ":" group labels
    LabelSet labels;
    std::map<std::string, Alert> alerts;  // by fingerprint
    TimePoint next_flush;
    bool flushed = false;
  };
  // Adds the alert to the groups of every matching route except `skip`.
  void Insert(const Alert& alert, TimePoint now, const std::set<int>& skip = {});
  void LoadLog();

  Outbox& outbox_;
  const Clock& clock_;
  std::string external_url_;
  ReceiverDispatchMap receivers_;
  std::vector<std::shared_ptr<Muter>> muters_;
  std::unique_ptr<RouteTree> tree_;
  std::map<std::pair<int, std::string>, Group> groups_;
  NotificationLog log_;
  // Resolved alerts already flushed from some routes' groups, by
  // fingerprint: not put back there while the engine still reports them.
  struct Done {
    double ends_at = 0;
    std::set<int> nodes;
  };
  std::map<std::string, Done> done_;
};

}  // namespace linkwatch::notifiers
