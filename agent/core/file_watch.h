// FileWatch: tells, from a thread of its own, when a file may have changed:
// written, created, deleted, renamed or replaced. It watches the file's
// folder through inotify and reacts to the file itself and to its SQLite
// companions (`<file>-wal`, `<file>-journal`), so a commit by any process
// wakes it; `<file>-shm` is left out (readers touch it too). So the agent's
// loop sleeps until the state store changes instead of checking it on a
// timer.
//
// `changed` runs on the watch's thread, once per burst of events; it must be
// cheap and thread-safe (e.g. notify a condition variable). The destructor
// stops the thread and waits for it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "agent/core/status.h"

namespace linkwatch {

class FileWatch {
 public:
  // Starts watching `path` (its folder must exist). An error when inotify
  // is not available here (no inotify, out of watches): the caller falls
  // back to checking on a timer.
  static Result<std::unique_ptr<FileWatch>> Start(const std::string& path,
                                                  std::function<void()> changed);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  // False once the folder itself was deleted or moved away: no event comes
  // any more (`changed` was called a last time); start a new watch.
  bool alive() const { return alive_.load(); }
  // Whether an event on the folder entry `entry` concerns the file named
  // `name` (the file itself, its -wal or -journal).
  static bool Concerns(std::string_view name, std::string_view entry);
  FileWatch& operator=(const FileWatch&) = delete;

 private:
  FileWatch(int inotify_fd, int stop_fd, std::string name, std::function<void()> changed);
  void Run();

  const int inotify_fd_;
  const int stop_fd_;       // an eventfd; written to stop the thread
  const std::string name_;  // the file's name in its folder
  const std::function<void()> changed_;
  std::atomic<bool> alive_{true};
  std::thread thread_;
};

}  // namespace linkwatch
