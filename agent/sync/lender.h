// Lender: connections lent to one step at a time (agent/sync/engine.cc).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "agent/core/status.h"

namespace linkwatch::sync {

// Connections (a source's, the state store's) lent to one table step at a
// time: as many exist as steps ran at once (at most the pool's threads), not
// one per table. A SQLite connection holds the whole parsed schema of its
// file, so one source connection per table held gigabytes with hundreds of
// tracked tables. Nothing of a table stays in a connection between steps.
template <class T>
class Lender {
 public:
  using Opener = std::function<Result<std::unique_ptr<T>>()>;
  explicit Lender(Opener open) : open_(std::move(open)) {}

  Result<std::unique_ptr<T>> Borrow() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        Lend(c.get());
        return c;
      }
    }
    auto opened = open_();
    if (opened.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      Lend(opened->get());
    }
    return opened;
  }
  // Every borrowed connection comes back here (or is destroyed after a
  // Return of it).
  void Return(std::unique_ptr<T> c) {
    if (!c) return;
    std::lock_guard<std::mutex> lock(mu_);
    lent_.erase(c.get());
    idle_.push_back(std::move(c));
  }
  // Cancels what the connections lent now are doing (Source::Cancel), and
  // every connection lent from now on: a step that borrows one after this
  // (it was opening one meanwhile) fails soon too.
  void CancelLent() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    for (T* c : lent_) c->Cancel();
  }

 private:
  void Lend(T* c) {  // under mu_
    lent_.insert(c);
    if constexpr (requires { c->Cancel(); }) {
      if (cancelled_) c->Cancel();
    }
  }

  Opener open_;
  std::mutex mu_;
  std::vector<std::unique_ptr<T>> idle_;  // not lent now
  std::set<T*> lent_;                     // lent now (owned by their borrower)
  bool cancelled_ = false;                // the engine is stopping
};

}  // namespace linkwatch::sync
