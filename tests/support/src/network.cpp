#include "natsbus/testing/network.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>
#include <thread>

namespace natsbus::testing {
namespace {

struct Socket {
  int fd;
  explicit Socket(int f) : fd(f) {}
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

sockaddr_in loopback(int port, const std::string& host = "127.0.0.1") {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("not an IPv4 address: " + host);
  return addr;
}

bool connectTo(const Socket& socket, int port, std::chrono::milliseconds timeout,
               const std::string& host = "127.0.0.1") {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto addr = loopback(port, host);
  return ::connect(socket.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

int freeLoopbackPort() {
  Socket socket(::socket(AF_INET, SOCK_STREAM, 0));
  auto addr = loopback(0);
  if (::bind(socket.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot bind a loopback port");
  }
  socklen_t length = sizeof addr;
  getsockname(socket.fd, reinterpret_cast<sockaddr*>(&addr), &length);
  return ntohs(addr.sin_port);
}

bool waitForTcp(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    Socket socket(::socket(AF_INET, SOCK_STREAM, 0));
    if (connectTo(socket, port, std::chrono::milliseconds(500))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

namespace {

// Large answers of some servers come chunked (Prometheus's API; Go's net/http,
// e.g. a NATS server's /connz).
bool isChunked(std::string headers) {
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return headers.find("\r\ntransfer-encoding: chunked") != std::string::npos;
}

std::string dechunked(const std::string& chunks) {
  std::string out;
  std::size_t at = 0;
  while (at < chunks.size()) {
    const auto line_end = chunks.find("\r\n", at);
    if (line_end == std::string::npos) break;
    const auto size = std::stoul(chunks.substr(at, line_end - at), nullptr, 16);
    if (size == 0) break;
    out.append(chunks, line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return out;
}

}  // namespace

int httpGet(int port, const std::string& path, std::string* body,
            std::chrono::milliseconds timeout) {
  return httpGetAt("127.0.0.1", port, path, body, timeout);
}

int httpGetAt(const std::string& host, int port, const std::string& path, std::string* body,
              std::chrono::milliseconds timeout) {
  Socket socket(::socket(AF_INET, SOCK_STREAM, 0));
  if (!connectTo(socket, port, timeout, host)) return -1;
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (::send(socket.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return -1;
  }
  std::string response;
  char buffer[16384];
  ssize_t n;
  while ((n = ::recv(socket.fd, buffer, sizeof buffer, 0)) > 0)
    response.append(buffer, static_cast<std::size_t>(n));
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return -1;
  if (body != nullptr) {
    const auto end_of_headers = response.find("\r\n\r\n");
    *body =
        end_of_headers == std::string::npos ? std::string() : response.substr(end_of_headers + 4);
    if (end_of_headers != std::string::npos && isChunked(response.substr(0, end_of_headers)))
      *body = dechunked(*body);
  }
  return std::stoi(response.substr(9, 3));
}

}  // namespace natsbus::testing
