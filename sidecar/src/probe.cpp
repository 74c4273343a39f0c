#include "natsbus/sidecar/probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>

#include "natsbus/validation_error.hpp"

namespace natsbus::sidecar {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr auto kProbeTimeout = std::chrono::seconds(1);

struct ProbeTarget {
  std::string host = "127.0.0.1";
  std::uint16_t port = 4195;
  std::string path = "/readyz";
};

ProbeTarget parseProbeArgs(const std::vector<std::string>& args, const EnvLookup& env) {
  ProbeTarget target;
  std::string listen;
  std::string setting = "NATSBUS_LISTEN";
  if (auto from_env = env("NATSBUS_LISTEN")) listen = *from_env;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--listen" && i + 1 < args.size()) {
      listen = args[++i];
      setting = "--listen";
    } else if (args[i].rfind("--listen=", 0) == 0) {
      listen = args[i].substr(9);
      setting = "--listen";
    } else if (!args[i].empty() && args[i][0] == '/') {
      target.path = args[i];
    } else {
      throw ValidationError("probe: unexpected argument \"" + args[i] +
                            "\" (usage: probe [--listen HOST:PORT] [/PATH])");
    }
  }
  if (!listen.empty()) parseListenAddress(listen, target.host, target.port, setting);
  // A sidecar bound to every address is reachable on loopback.
  if (target.host == "0.0.0.0" || target.host.empty()) target.host = "127.0.0.1";
  if (target.host == "::") target.host = "::1";
  return target;
}

}  // namespace

int runProbe(const std::vector<std::string>& args, const EnvLookup& env) {
  ProbeTarget target;
  try {
    target = parseProbeArgs(args, env);
  } catch (const ValidationError& error) {
    std::cerr << "natsbus-sidecar " << error.what() << "\n";
    return 2;
  }
  std::string error;
  const auto answer = httpGetOnce(target.host, target.port, target.path, kProbeTimeout, &error);
  if (!answer) {
    std::cout << "no answer from " << target.host << ":" << target.port << target.path << ": "
              << error << "\n";
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
