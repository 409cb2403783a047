// BackgroundSource: runs a slow source's polls (one over the network: the
// dataverse source) on a thread of its own, so that the watcher's loop
// (rules, group flushes, reloads, stopping) never waits on the network.
//
// The thread polls the inner source every watch.interval (counted from the
// start of the previous poll) and wakes the watcher when a poll ends; the
// watcher's Poll() takes the latest result, snapshot or error, at once.
// Its first Poll() waits for the first result, up to kFirstWait.
//
// A poll that hangs (a request that neither answers nor fails, a long
// Retry-After) does not hide behind the last good snapshot: once the poll in
// progress has run for longer than the interval plus kStaleAfter, Poll()
// fails with how long it has been waiting, so the source is unreachable
// (SourceUnreachable) rather than quietly old.
//
// Thread-safe as a StateSource needs: the watcher thread calls it, the
// poller thread owns the inner source's Poll(); the destructor stops the
// inner poll (StateSource::Stop) and joins.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/core/clock.h"
#include "agent/watch/state_source.h"

namespace linkwatch::watch {

class BackgroundSource final : public StateSource {
 public:
  static constexpr Duration kFirstWait = std::chrono::seconds(10);
  static constexpr Duration kStaleAfter = std::chrono::seconds(60);

  BackgroundSource(std::unique_ptr<StateSource> inner, const Clock& clock);
  ~BackgroundSource() override;

  const std::string& name() const override { return inner_->name(); }
  Result<std::shared_ptr<const state::Snapshot>> Poll() override;
  bool Changed() override;
  bool NotifyChanges(const std::function<void()>& wake) override;
  Status CheckReadable() const override { return inner_->CheckReadable(); }
  void SetPollInterval(Duration interval) override;
  void Stop() override;

  StateSource& inner() { return *inner_; }

 private:
  void StartLocked();
  void Run();

  std::unique_ptr<StateSource> inner_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool started_ = false;
  bool stopping_ = false;
  Duration interval_ = std::chrono::seconds(15);
  std::function<void()> wake_;
  // The latest poll's result, and whether the watcher has taken it.
  std::optional<Result<std::shared_ptr<const state::Snapshot>>> result_;
  bool fresh_ = false;
  bool polling_ = false;
  TimePoint poll_started_{};
};

}  // namespace linkwatch::watch
