#include "agent/watch/background_source.h"

#include "agent/core/thread_name.h"

namespace linkwatch::watch {

BackgroundSource::BackgroundSource(std::unique_ptr<StateSource> inner, const Clock& clock)
    : inner_(std::move(inner)), clock_(clock) {}

BackgroundSource::~BackgroundSource() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

void BackgroundSource::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  inner_->Stop();
}

void BackgroundSource::StartLocked() {
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void BackgroundSource::SetPollInterval(Duration interval) {
  std::lock_guard lock(mu_);
  interval_ = interval;
  cv_.notify_all();
}

bool BackgroundSource::NotifyChanges(const std::function<void()>& wake) {
  std::lock_guard lock(mu_);
  wake_ = wake;
  StartLocked();
  return true;
}

bool BackgroundSource::Changed() {
  std::lock_guard lock(mu_);
  return fresh_;
}

Result<std::shared_ptr<const state::Snapshot>> BackgroundSource::Poll() {
  std::unique_lock lock(mu_);
  StartLocked();
  if (!result_) {
    clock_.WaitFor(lock, cv_, kFirstWait, [&] { return result_.has_value() || stopping_; });
  }
  const auto seconds = [](Duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
  };
  const Duration running = polling_ ? clock_.Now() - poll_started_ : Duration(0);
  if (!result_)
    return Status::Error("no answer yet: the first poll has run for " + seconds(running));
  if (polling_ && running > interval_ + kStaleAfter) {
    return Status::Error("no answer for " + seconds(running) +
                         ": the poll in progress neither ended nor failed");
  }
  fresh_ = false;
  return *result_;
}

void BackgroundSource::Run() {
  NameThisThread("lw-poll");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    polling_ = true;
    poll_started_ = clock_.Now();
    const TimePoint started = poll_started_;
    lock.unlock();
    auto result = inner_->Poll();
    lock.lock();
    polling_ = false;
    result_ = std::move(result);
    fresh_ = true;
    cv_.notify_all();
    if (wake_) wake_();
    // Until an interval after this poll started (SetPollInterval wakes the
    // wait, which then counts with the new interval).
    while (!stopping_ && clock_.Now() < started + interval_) {
      clock_.WaitUntil(lock, cv_, started + interval_);
    }
  }
}

}  // namespace linkwatch::watch
