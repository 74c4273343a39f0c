#include "natsbus/sidecar/probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>

namespace natsbus::sidecar {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr auto kProbeTimeout = std::chrono::seconds(1);

}  // namespace

int runProbe(const ProbeTarget& probe) {
  ProbeTarget target = probe;
  // A sidecar bound to every address is reachable on loopback.
  if (target.address.host == "0.0.0.0") target.address.host = "127.0.0.1";
  if (target.address.host == "::") target.address.host = "::1";
  std::string error;
  const auto answer =
      httpGetOnce(target.address.host, target.address.port, target.path, kProbeTimeout, &error);
  if (!answer) {
    std::cout << "no answer from " << target.address.host << ":" << target.address.port
              << target.path << ": " << error << "\n";
    return 1;
  }
  std::cout << answer->status << " " << answer->body << "\n";
  return answer->status == 200 ? 0 : 1;
}

std::optional<HttpAnswer> httpGetOnce(const std::string& host, std::uint16_t port,
                                      const std::string& path, std::chrono::milliseconds timeout,
                                      std::string* error) {
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    tcp::resolver resolver(io);
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> request{http::verb::get, path, 11};
    request.set(http::field::host, host);
    request.set(http::field::connection, "close");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return HttpAnswer{static_cast<int>(response.result_int()), response.body()};
  } catch (const std::exception& failure) {
    if (error != nullptr) *error = failure.what();
    return std::nullopt;
  }
}

}  // namespace natsbus::sidecar
