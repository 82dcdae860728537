// A scriptable HTTP/1.1 upstream on 127.0.0.1:0 for integration tests, running on its own
// thread. Each request is answered by a handler; requests and connections are counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ferry::test {

struct SeenRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;             ///< first `store_limit` bytes
  std::uint64_t body_size = 0;  ///< all bytes received
  std::string header(const std::string& name) const;  ///< first value, case-insensitive
  bool has_header(const std::string& name) const;
  std::size_t count(const std::string& name) const;  ///< fields called `name` (case-insensitive)
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  std::uint64_t generated_body = 0;  ///< if > 0: stream this many 'x' bytes instead of body
  bool chunked = false;              ///< send body with chunked encoding
  bool no_length = false;            ///< no framing: body ends at close
  bool cork = false;                 ///< with no_length: the response and the FIN in one segment
  bool close = false;                ///< close the connection after responding
  bool close_quietly = false;        ///< close after responding, without a Connection header
  bool reset = false;                ///< close without responding
  std::string raw{};                 ///< if set: send these bytes verbatim, then close
  std::chrono::milliseconds delay{0};
};

class FakeUpstream {
 public:
  using Handler = std::function<FakeResponse(const SeenRequest&)>;
  explicit FakeUpstream(Handler handler = {}, std::size_t store_limit = 1 << 20);
  /// Listens on `address`:`port` (another loopback address such as 127.0.0.2, for DNS
  /// tests; port 0 picks one).
  FakeUpstream(Handler handler, const std::string& address, std::uint16_t port, std::size_t store_limit = 1 << 20);
  ~FakeUpstream();

  std::uint16_t port() const noexcept { return port_; }
  std::uint64_t connections() const noexcept { return connections_.load(); }
  std::uint64_t requests() const noexcept { return requests_.load(); }
  std::vector<SeenRequest> seen() const;
  SeenRequest last() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  friend struct Impl;
};

/// A parsed HTTP response read by the test client.
struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-cased names
  std::vector<std::pair<std::string, std::string>> fields;  ///< every field as received, in order
  std::string body;
  bool keep_alive = true;
  std::string header(const std::string& name) const;
  std::size_t count(const std::string& name) const;  ///< fields called `name` (case-insensitive)
};

/// A blocking HTTP/1.1 client over one connection, for driving the proxy.
class TestClient {
 public:
  /// `source`: the local address to connect from (any when null).
  explicit TestClient(std::uint16_t port, const char* host = "127.0.0.1", const char* source = nullptr);
  ~TestClient();
  /// Sends raw bytes.
  void send(const std::string& bytes);
  /// Reads one response (HEAD: pass true so no body is expected). Throws on error/timeout.
  ClientResponse read_response(bool head = false);
  /// Sends a simple request and reads its response.
  ClientResponse request(const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         const std::string& body = {});
  /// True when the peer has closed the connection (reads to EOF within `wait`).
  bool closed_by_peer(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
  void set_timeout(std::chrono::milliseconds t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A listening TCP socket on 127.0.0.1, port picked by the kernel (written to `port`), for
/// tests that need raw control of the server side; the caller closes it.
int listen_loopback(int backlog, std::uint16_t& port);

/// One request on a fresh connection.
ClientResponse http_get(std::uint16_t port, const std::string& target, const std::string& host = "localhost");

}  // namespace ferry::test
