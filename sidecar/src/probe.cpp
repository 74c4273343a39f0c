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
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(kProbeTimeout);
    tcp::resolver resolver(io);
    stream.connect(resolver.resolve(target.address.host, std::to_string(target.address.port)));
    http::request<http::empty_body> request{http::verb::get, target.path, 11};
    request.set(http::field::host, target.address.host);
    request.set(http::field::connection, "close");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    std::cout << response.result_int() << " " << response.body() << "\n";
    return response.result() == http::status::ok ? 0 : 1;
  } catch (const std::exception& error) {
    std::cout << "no answer from " << target.address.host << ":" << target.address.port
              << target.path << ": " << error.what() << "\n";
    return 1;
  }
}

}  // namespace natsbus::sidecar
