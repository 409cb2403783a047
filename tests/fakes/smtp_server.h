// SmtpServer: a real SMTP server for tests, Debian's python3-aiosmtpd run by
// tests/fakes/smtp_server.py under /usr/bin/python3 on 127.0.0.1 (port 0,
// read back). STARTTLS, implicit TLS or plain; AUTH required when a username
// is given (only over TLS unless plain); STARTTLS, MAIL, RCPT or DATA
// answered with a scripted reply. It reports every command (and whether it came encrypted),
// every AUTH attempt, every message (parsed by Python's email package: decoded
// headers and parts), and every connection's end, as JSON events.
//
// A message is reported before the server answers DATA, so once the client
// heard 250 its event is on its way: WaitForEvents("message", 1) returns
// promptly. Tests wait for any other state (every connection ended) with
// WaitFor; both wake on each new event, never sleep.
//
// MakeTestCertificate makes a self-signed certificate for 127.0.0.1 with the
// openssl command line tool.
//
// Thread-safe: a reader thread collects the events.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace linkwatch::fakes {

struct SmtpServerOptions {
  std::string tls = "starttls";  // starttls | implicit | none
  std::string cert_file;         // PEM, for starttls and implicit
  std::string key_file;
  std::string username;  // AUTH required when set
  std::string password;
  // "VERB=REPLY": STARTTLS, MAIL, RCPT or DATA answered with REPLY
  // ("RCPT=450 4.2.1 busy").
  std::vector<std::string> replies;
};

class SmtpServer {
 public:
  using Events = std::vector<nlohmann::json>;

  // Starts the server and waits until it listens; a failure to start is a
  // test failure (port() is then 0).
  explicit SmtpServer(SmtpServerOptions options);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  int port() const { return port_; }
  std::string HostPort() const { return "127.0.0.1:" + std::to_string(port_); }

  Events AllEvents() const;
  // Events of one kind ("message", "command", "auth", ...).
  Events EventsOf(const std::string& kind) const;
  // Waits until `done` holds for the events so far, looking again at each new
  // event; false if no event comes within `real_timeout` while it fails.
  bool WaitFor(const std::function<bool(const Events&)>& done,
               std::chrono::milliseconds real_timeout = std::chrono::seconds(20)) const;
  // Waits for at least `n` events of `kind` and returns those there are.
  Events WaitForEvents(const std::string& kind, size_t n) const;
  // True once every connection in `events` has ended (at least one); for
  // WaitFor.
  static bool AllConnectionsClosed(const Events& events);
  // What the server wrote to stderr (for failure messages).
  std::string Stderr() const;

 private:
  void ReadEvents();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string stderr_path_;
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Events events_;
  bool eof_ = false;
  std::thread reader_;
};

// Writes a self-signed certificate for 127.0.0.1 and localhost (EC P-256,
// valid one day) to cert_file and its key to key_file; false on failure.
bool MakeTestCertificate(const std::string& cert_file, const std::string& key_file);

}  // namespace linkwatch::fakes
