#include "agent/core/file_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "agent/core/thread_name.h"

namespace linkwatch {

Result<std::unique_ptr<FileWatch>> FileWatch::Start(const std::string& path,
                                                    std::function<void()> changed) {
  const std::filesystem::path p(path);
  const std::string folder = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return Status::Error(std::string("inotify: ") + std::strerror(errno));
  constexpr uint32_t kMask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                             IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  if (::inotify_add_watch(fd, folder.c_str(), kMask) < 0) {
    const int err = errno;
    ::close(fd);
    return Status::Error("cannot watch " + folder + ": " + std::strerror(err));
  }
  const int stop = ::eventfd(0, EFD_CLOEXEC);
  if (stop < 0) {
    const int err = errno;
    ::close(fd);
    return Status::Error(std::string("eventfd: ") + std::strerror(err));
  }
  std::unique_ptr<FileWatch> w(new FileWatch(fd, stop, p.filename().string(), std::move(changed)));
  w->thread_ = std::thread([raw = w.get()] {
    NameThisThread("lw-inotify");
    raw->Run();
  });
  return w;
}

FileWatch::FileWatch(int inotify_fd, int stop_fd, std::string name, std::function<void()> changed)
    : inotify_fd_(inotify_fd),
      stop_fd_(stop_fd),
      name_(std::move(name)),
      changed_(std::move(changed)) {}

FileWatch::~FileWatch() {
  const uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(inotify_fd_);
  ::close(stop_fd_);
}

bool FileWatch::Concerns(std::string_view name, std::string_view entry) {
  if (!entry.starts_with(name)) return false;
  const std::string_view rest = entry.substr(name.size());
  return rest.empty() || rest == "-wal" || rest == "-journal";
}

void FileWatch::Run() {
  // A commit writes its pages one by one (an event each): the callback runs
  // once the burst is over (kQuiet without an event, or kMaxDelay after its
  // first event), not once per page.
  constexpr int kQuietMs = 5;
  constexpr auto kMaxDelay = std::chrono::milliseconds(50);
  // Aligned for struct inotify_event, as inotify(7) asks.
  alignas(struct inotify_event) char buffer[8192];
  bool pending = false;
  std::chrono::steady_clock::time_point first{};
  while (true) {
    struct pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, pending ? kQuietMs : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    ssize_t n;
    while ((n = ::read(inotify_fd_, buffer, sizeof buffer)) > 0) {
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const struct inotify_event*>(buffer + off);
        // The folder itself gone or moved, or events lost: anything may
        // have changed.
        if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_IGNORED)) != 0 ||
            (ev->len > 0 && Concerns(name_, ev->name))) {
          if (!pending) first = std::chrono::steady_clock::now();
          pending = true;
        }
        if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) alive_ = false;
        off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      }
    }
    if (pending &&
        (ready == 0 || !alive_ || std::chrono::steady_clock::now() - first >= kMaxDelay)) {
      pending = false;
      changed_();
    }
    if (!alive_) return;
  }
}

}  // namespace linkwatch
