// The only linkwatch source that includes Boost.Asio/Beast (see
// conventions.md, "Build time is a feature").
#include "agent/http/server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/thread_name.h"
#include "agent/http/route_table.h"

namespace linkwatch::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
class Session;
}  // namespace

class HttpServer::Impl {
 public:
  Impl(std::string listen, HttpServerOptions options)
      : listen_(std::move(listen)), options_(std::move(options)) {
    if (options_.threads < 1) options_.threads = 1;
  }

  Status Start();
  void Stop();
  void DoAccept();
  void Unregister(Session* s);

  // The handler runs outside the routes lock, so a slow handler never
  // blocks Handle() and a handler may add routes.
  HttpResponse Dispatch(HttpRequest& request) {
    RouteTable::Match match;
    Handler handler;
    {
      std::shared_lock lock(routes_mu_);
      match = routes_.Find(request.method, request.path);
      if (match.handler != nullptr) handler = *match.handler;
    }
    match.handler = nullptr;
    return RouteTable::Respond(std::move(match), handler, request);
  }
  bool stopping() const { return stopping_.load(); }

  const std::string listen_;
  HttpServerOptions options_;
  std::shared_mutex routes_mu_;
  RouteTable routes_;
  std::atomic<int> port_{0};
  bool started_ = false;
  bool stopped_ = false;

  // Live sessions, so that Stop can close idle ones. Declared before ioc_:
  // sessions destroyed with ioc_'s pending handlers still unregister here.
  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::atomic<bool> stopping_{false};

  asio::io_context ioc_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> accept_retry_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

namespace {

// One client connection. All its handlers run on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.Unregister(this); }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoReadHeader(); });
  }

  // Called (on the strand) when the server stops: an idle connection is
  // closed now, one with a request in flight after its answer.
  void OnServerStop() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kReadingHeader || self->phase_ == Phase::kLingering) {
        self->Close();
      } else {
        self->close_after_write_ = true;
      }
    });
  }

 private:
  enum class Phase { kReadingHeader, kReadingBody, kWriting, kLingering, kClosed };
  static constexpr size_t kMaxDrainBytes = 16 << 20;

  void DoReadHeader() {
    phase_ = Phase::kReadingHeader;
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
    // One deadline for the whole request: a client trickling bytes
    // (slowloris) cannot extend it.
    stream_.expires_after(server_.options_.request_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    phase_ = Phase::kReadingBody;
    const auto& req = parser_->get();
    if (!parser_->is_done() && beast::iequals(req[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(k100.data(), k100.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->DoReadBody();
                        });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return SendError(413, "request body larger than " +
                                std::to_string(server_.options_.max_body_bytes) + " bytes");
    }
    if (ec == bhttp::error::header_limit) {
      return SendError(431, "request header fields too large");
    }
    const bool parse_error =
        &ec.category() == &bhttp::make_error_code(bhttp::error::bad_version).category();
    if (!parse_error || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      // Clean close, a client that hung up or was too slow (slowloris, idle
      // keep-alive), shutdown, or a network error: nobody to answer.
      if (ec == beast::error::timeout) {
        spdlog::debug("http: closing connection from {}: no complete request in time", Peer());
      }
      return Close();
    }
    SendError(400, "malformed HTTP request: " + ec.message());
  }

  void OnRequest(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    bhttp::request<bhttp::string_body> req = parser_->release();
    parser_.reset();

    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      request.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(req.body());
    const bool head = req.method() == bhttp::verb::head;

    HttpResponse response;
    if (!ParseTarget(request.target, &request.path, &request.query, &request.query_list)) {
      response = HttpResponse::Error(400, "malformed request target");
    } else {
      response = server_.Dispatch(request);
    }
    if (response.status < 100 || response.status > 599 || response.status == 101) {
      spdlog::error("http: {} {} answered with invalid status {}", request.method, request.path,
                    response.status);
      response = HttpResponse::Error(500, "internal server error");
    }
    const bool keep_alive = req.keep_alive() && !close_after_write_ && !server_.stopping();
    Write(std::move(response), req.version(), keep_alive, head, /*linger=*/false);
  }

  void SendError(int status, const std::string& message) {
    spdlog::debug("http: {} answered {}: {}", Peer(), status, message);
    Write(HttpResponse::Error(status, message), 11, /*keep_alive=*/false, /*head=*/false,
          /*linger=*/true);
  }

  void Write(HttpResponse r, unsigned version, bool keep_alive, bool head, bool linger) {
    phase_ = Phase::kWriting;
    linger_ = linger;
    close_after_write_ = close_after_write_ || !keep_alive;
    res_ = {};
    res_.version(version);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(bhttp::field::server, "linkwatch");
    if (r.status == 204 || r.status == 304) {
      r.body.clear();
    } else {
      res_.set(bhttp::field::content_type, r.content_type);
    }
    for (auto& [name, value] : r.headers) res_.insert(name, value);
    const size_t size = r.body.size();
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    if (head) {
      res_.body().clear();
      res_.content_length(size);
    }
    stream_.expires_after(server_.options_.write_timeout);
    bhttp::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return Close();
    if (linger_) return Linger();
    if (close_after_write_ || server_.stopping()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return Close();
    }
    DoReadHeader();
  }

  // Half-closes, then reads and drops the rest of the request (bounded in
  // time and size), so the client sees our answer instead of a reset.
  void Linger() {
    phase_ = Phase::kLingering;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(server_.options_.linger_timeout);
    DoDrain();
  }

  void DoDrain() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrainBytes) return self->Close();
                              self->DoDrain();
                            });
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  std::string Peer() {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (ec) return "a client";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  HttpServer::Impl& server_;
  Phase phase_ = Phase::kReadingHeader;
  bool close_after_write_ = false;
  bool linger_ = false;
  std::array<char, 16384> drain_{};
  size_t drained_ = 0;
};

}  // namespace

Status HttpServer::Impl::Start() {
  if (started_) return Status::Error("http server already started");
  auto hp = ParseListenAddress(listen_);
  if (!hp.ok()) return hp.status();
  const auto& [host, port] = *hp;
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto endpoints = resolver.resolve(host, std::to_string(port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Status::Error("http.listen " + listen_ + ": cannot resolve " + host + ": " +
                         ec.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.emplace(asio::make_strand(ioc_));
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    return Status::Error("http.listen " + listen_ + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint(ec).port();
  accept_retry_.emplace(acceptor_->get_executor());
  started_ = true;
  work_.emplace(ioc_.get_executor());
  DoAccept();
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("lw-http");
      // A bug in a handler must not take the process down.
      while (true) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: unexpected error in the server loop: {}", e.what());
        }
      }
    });
  }
  spdlog::info("http: listening on {} (port {})", listen_, port_.load());
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  acceptor_->async_accept(asio::make_strand(ioc_),
                          [this](beast::error_code ec, tcp::socket socket) {
                            if (ec == asio::error::operation_aborted || !acceptor_->is_open())
                              return;
                            if (ec) {
                              // E.g. out of file descriptors: back off briefly instead of spinning.
                              spdlog::warn("http: accept failed: {}", ec.message());
                              accept_retry_->expires_after(std::chrono::milliseconds(50));
                              accept_retry_->async_wait([this](beast::error_code wec) {
                                if (!wec && acceptor_->is_open()) DoAccept();
                              });
                              return;
                            }
                            std::shared_ptr<Session> session;
                            {
                              std::lock_guard lock(sessions_mu_);
                              if (stopping_) return;  // the socket closes as it goes out of scope
                              session = std::make_shared<Session>(std::move(socket), *this);
                              sessions_.emplace(session.get(), session);
                            }
                            session->Run();
                            DoAccept();
                          });
}

void HttpServer::Impl::Unregister(Session* s) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(s);
  sessions_cv_.notify_all();
}

void HttpServer::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mu_);
    stopping_ = true;
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  asio::post(acceptor_->get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
    accept_retry_->cancel();
  });
  for (auto& s : live) s->OnServerStop();
  live.clear();
  work_.reset();
  {
    std::unique_lock lock(sessions_mu_);
    SystemClock::Instance().WaitFor(lock, sessions_cv_, options_.stop_grace,
                                    [this] { return sessions_.empty(); });
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  spdlog::info("http: stopped listening on {}", listen_);
}

HttpServer::HttpServer(std::string listen, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(listen), std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string method, std::string path_pattern, Handler handler) {
  std::unique_lock lock(impl_->routes_mu_);
  impl_->routes_.Add(std::move(method), std::move(path_pattern), std::move(handler));
}

Status HttpServer::Start() { return impl_->Start(); }

int HttpServer::port() const { return impl_->port_.load(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace linkwatch::http
