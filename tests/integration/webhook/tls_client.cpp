#include "tls_client.hpp"

#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace natsbus::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr auto kStepTimeout = std::chrono::seconds(10);
}

// Asynchronous steps with Beast's timeouts (synchronous Beast calls ignore them,
// and a test must not hang on a server that accepts but never answers).
TlsAnswer httpsRequest(int port, const std::string& ca_file, const std::string& method,
                       const std::string& target, const std::string& body,
                       std::optional<std::size_t> declared_length) {
  TlsAnswer answer;
  try {
    asio::io_context io;
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.load_verify_file(ca_file);
    context.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, context);
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    if (declared_length) request.content_length(*declared_length);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);

    const auto fail = [&](const char* step, beast::error_code error) {
      answer.error = std::string(step) + ": " + error.message();
    };
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(kStepTimeout);
    tcp.async_connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                static_cast<unsigned short>(port)),
        [&](beast::error_code error) {
          if (error) return fail("connect", error);
          tcp.expires_after(kStepTimeout);
          stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code error) {
            if (error) return fail("handshake", error);
            if (X509* peer = SSL_get_peer_certificate(stream.native_handle())) {
              char name[256] = {};
              X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name,
                                        sizeof name);
              answer.peer_common_name = name;
              X509_free(peer);
            }
            tcp.expires_after(kStepTimeout);
            http::async_write(stream, request, [&](beast::error_code error, std::size_t) {
              // A server refusing the request may answer before reading the body.
              if (error && error != http::error::need_more) fail("write", error);
              tcp.expires_after(kStepTimeout);
              http::async_read(stream, buffer, parser, [&](beast::error_code error, std::size_t) {
                if (error) return fail("read", error);
                answer.status = static_cast<int>(parser.get().result_int());
                answer.body = parser.get().body();
                answer.error.clear();
                tcp.close();
              });
            });
          });
        });
    io.run();
  } catch (const std::exception& error) {
    answer.error = error.what();
  }
  return answer;
}

}  // namespace natsbus::testing
