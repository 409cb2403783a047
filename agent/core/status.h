// Status and Result<T>: runtime failures as values (I/O, SQLite busy, HTTP
// errors, bad input from the network). Exceptions are used only while loading
// configuration (see problem.h). Both types are cheap to move; not thread-safe
// to share mutably, like any value type.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace linkwatch {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // A break in the chain of changes the sync core replicates (docs/sync.md
  // "Breaks"): what the destination holds can no longer be brought up to
  // date by applying changes (a partition deleted by hand, a source restored
  // from a backup, a gap in change tracking, ...). `reason` is a short
  // snake_case code for metrics and rules ("partition_missing"); the engine
  // repairs a break by resyncing the table, loudly.
  static Status Break(std::string reason, std::string message) {
    Status s(std::move(message));
    s.reason_ = std::move(reason);
    s.break_ = true;
    return s;
  }
  // An ordinary error with a reason code (for the per-table error metric:
  // "model_corrupt", "source_missing"); no-op on ok.
  Status WithReason(std::string reason) const {
    Status s = *this;
    if (!ok()) s.reason_ = std::move(reason);
    return s;
  }

  bool ok() const { return !message_.has_value(); }
  explicit operator bool() const { return ok(); }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // The reason code of a break or of an error given one; "" otherwise.
  const std::string& reason() const { return reason_; }
  bool is_break() const { return break_; }
  // Prefixes the message with context ("reading state.db: ..."); a break
  // stays a break, a reason stays.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status s(context + ": " + *message_);
    s.reason_ = reason_;
    s.break_ = break_;
    return s;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
  std::string reason_;
  bool break_ = false;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must be an error

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  const std::string& message() const {
    static const std::string kEmpty;
    return ok() ? kEmpty : std::get<Status>(v_).message();
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace linkwatch
