#include "natsbus/operator/http_kube_client.hpp"

#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <boost/asio/ssl/context.hpp>
#include <fstream>
#include <mutex>

namespace natsbus::op {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::method;
using web::http::methods;
using web::http::client::http_client;
using web::http::client::http_client_config;

constexpr const char* kFieldManager = "natsbus-operator";

std::string encode(const std::string& value) {
  return web::uri::encode_data_string(value);
}

std::string collectionPath(const ResourceKind& kind, const std::string& ns) {
  if (ns.empty()) return kind.api_prefix + "/" + kind.plural;
  return kind.api_prefix + "/namespaces/" + encode(ns) + "/" + kind.plural;
}

std::string objectPath(const ResourceKind& kind, const std::string& ns, const std::string& name) {
  return collectionPath(kind, ns) + "/" + encode(name);
}

// Turns a non-2xx answer into a KubeError carrying the Status object's reason and message.
[[noreturn]] void throwStatus(const std::string& what, int status, const std::string& body) {
  std::string reason;
  std::string message = body;
  try {
    const auto parsed = nlohmann::json::parse(body);
    reason = parsed.value("reason", "");
    message = parsed.value("message", body);
  } catch (const nlohmann::json::exception&) {
  }
  throw KubeError(status, reason, what + ": " + std::to_string(status) + " " + message);
}

class HttpKubeClient final : public KubeClient {
 public:
  HttpKubeClient(KubeConfig config, HttpKubeClientOptions options)
      : config_(std::move(config)),
        options_(options),
        client_(config_.server, clientConfig(options.request_timeout)) {}

  nlohmann::json get(const ResourceKind& kind, const std::string& ns,
                     const std::string& name) override {
    return send(methods::GET, objectPath(kind, ns, name), nullptr, "");
  }

  ListResult list(const ResourceKind& kind, const std::string& ns,
                  const ListOptions& options) override {
    std::string path = collectionPath(kind, ns);
    std::string query;
    if (!options.label_selector.empty())
      query += "&labelSelector=" + encode(options.label_selector);
    if (!options.field_selector.empty())
      query += "&fieldSelector=" + encode(options.field_selector);
    if (!query.empty()) path += "?" + query.substr(1);
    auto body = send(methods::GET, path, nullptr, "");
    ListResult result;
    result.resource_version = body["metadata"].value("resourceVersion", "");
    for (auto& item : body["items"]) {
      // List items carry no apiVersion/kind; restore them so cached objects are whole.
      item["apiVersion"] = kind.api_version;
      item["kind"] = kind.kind;
      result.items.push_back(std::move(item));
    }
    return result;
  }

  void watch(const ResourceKind& kind, const std::string& ns, const WatchOptions& options,
             const std::function<bool(const WatchEvent&)>& on_event) override {
    std::string path = collectionPath(kind, ns) +
                       "?watch=true&allowWatchBookmarks=true&timeoutSeconds=" +
                       std::to_string(options.timeout_seconds);
    if (!options.resource_version.empty())
      path += "&resourceVersion=" + encode(options.resource_version);
    if (!options.label_selector.empty()) path += "&labelSelector=" + encode(options.label_selector);
    if (!options.field_selector.empty()) path += "&fieldSelector=" + encode(options.field_selector);
    // A client per watch, whose timeout outlasts the server-side timeoutSeconds,
    // so the server always ends the stream first (see HttpKubeClientOptions).
    http_client watch_client(
        config_.server,
        clientConfig(std::chrono::seconds(options.timeout_seconds) + options_.watch_slack));
    pplx::cancellation_token token = pplx::cancellation_token::none();
    {
      std::lock_guard lock(mutex_);
      token = cancel_.get_token();
    }
    if (token.is_canceled()) return;
    http_response response;
    try {
      response = watch_client.request(request(methods::GET, path, nullptr, ""), token).get();
    } catch (const pplx::task_canceled&) {
      return;
    } catch (const std::exception& e) {
      throw KubeError(0, "", "GET " + path + ": " + e.what());
    }
    if (response.status_code() == 410) {
      on_event(WatchEvent{
          "ERROR", nlohmann::json{{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}}});
      return;
    }
    if (response.status_code() >= 300)
      throwStatus("GET " + path, response.status_code(), bodyText(response));

    auto buffer = response.body().streambuf();
    std::string pending;
    std::vector<std::uint8_t> chunk(64 * 1024);
    try {
      for (;;) {
        // Wait for one byte, then take whatever else has already arrived: asking for
        // a full chunk would wait for 64 KiB that a quiet watch never sends.
        std::size_t got = buffer.getn(chunk.data(), 1).get();
        if (got == 0) return;  // the server ended the watch
        const std::size_t available = buffer.in_avail();
        if (available > 0)
          got += buffer.getn(chunk.data() + 1, std::min(available, chunk.size() - 1)).get();
        pending.append(reinterpret_cast<const char*>(chunk.data()), got);
        std::size_t start = 0;
        for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos;
             start = end + 1) {
          if (end == start) continue;
          auto line = nlohmann::json::parse(pending.begin() + static_cast<std::ptrdiff_t>(start),
                                            pending.begin() + static_cast<std::ptrdiff_t>(end));
          WatchEvent event{line.value("type", ""), std::move(line["object"])};
          if (!on_event(event)) return;
        }
        pending.erase(0, start);
      }
    } catch (const pplx::task_canceled&) {
      return;
    } catch (const nlohmann::json::exception& e) {
      throw KubeError(0, "", "watch " + path + ": malformed event: " + e.what());
    } catch (const KubeError&) {
      throw;
    } catch (const std::exception& e) {
      if (token.is_canceled()) return;
      throw KubeError(0, "", "watch " + path + ": stream broke: " + e.what());
    }
  }

  nlohmann::json apply(const ResourceKind& kind, const std::string& ns, const std::string& name,
                       const nlohmann::json& object) override {
    return send(methods::PATCH,
                objectPath(kind, ns, name) + "?fieldManager=" + kFieldManager + "&force=true",
                &object, "application/apply-patch+yaml");
  }

  nlohmann::json applyStatus(const ResourceKind& kind, const std::string& ns,
                             const std::string& name, const nlohmann::json& object) override {
    return send(
        methods::PATCH,
        objectPath(kind, ns, name) + "/status?fieldManager=" + kFieldManager + "&force=true",
        &object, "application/apply-patch+yaml");
  }

  nlohmann::json create(const ResourceKind& kind, const std::string& ns,
                        const nlohmann::json& object) override {
    return send(methods::POST, collectionPath(kind, ns) + "?fieldManager=" + kFieldManager, &object,
                "application/json");
  }

  nlohmann::json replace(const ResourceKind& kind, const std::string& ns, const std::string& name,
                         const nlohmann::json& object) override {
    return send(methods::PUT, objectPath(kind, ns, name) + "?fieldManager=" + kFieldManager,
                &object, "application/json");
  }

  void remove(const ResourceKind& kind, const std::string& ns, const std::string& name) override {
    send(methods::DEL, objectPath(kind, ns, name), nullptr, "");
  }

  void cancelWatches() override {
    std::lock_guard lock(mutex_);
    cancel_.cancel();
  }

 private:
  http_client_config clientConfig(std::chrono::seconds timeout) const {
    http_client_config cfg;
    cfg.set_timeout(timeout);
    // Loopback and in-cluster traffic must not be routed through an environment proxy.
    cfg.set_proxy(web::web_proxy(web::web_proxy::disabled));
    cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
    const auto ca = config_.ca_pem;
    const auto cert = config_.client_cert_pem;
    const auto key = config_.client_key_pem;
    cfg.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& context) {
      if (!ca.empty()) context.add_certificate_authority(boost::asio::buffer(ca));
      if (!cert.empty()) {
        context.use_certificate_chain(boost::asio::buffer(cert));
        context.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      }
    });
    return cfg;
  }

  std::string bearerToken() {
    // Projected service-account tokens rotate; re-read the file now and then.
    if (config_.token_file.empty()) return config_.token;
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - token_read_at_ > std::chrono::minutes(1)) {
      std::ifstream in(config_.token_file);
      std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
      if (!token.empty()) config_.token = token;
      token_read_at_ = now;
    }
    return config_.token;
  }

  http_request request(const method& verb, const std::string& path, const nlohmann::json* body,
                       const std::string& content_type) {
    http_request req(verb);
    req.set_request_uri(web::uri(path));
    req.headers().add("Accept", "application/json");
    req.headers().add("User-Agent", "natsbus-operator");
    const auto token = bearerToken();
    if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
    if (body != nullptr) req.set_body(body->dump(), content_type);
    return req;
  }

  static std::string bodyText(http_response& response) {
    try {
      return response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      return std::string("(body unreadable: ") + e.what() + ")";
    }
  }

  nlohmann::json send(const method& verb, const std::string& path, const nlohmann::json* body,
                      const std::string& content_type) {
    const std::string what = verb + " " + path;
    http_response response;
    std::string text;
    try {
      response = client_.request(request(verb, path, body, content_type)).get();
      text = response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      throw KubeError(0, "", what + ": " + e.what());
    }
    if (response.status_code() >= 300) throwStatus(what, response.status_code(), text);
    if (text.empty()) return nlohmann::json::object();
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw KubeError(response.status_code(), "", what + ": answer is not JSON: " + e.what());
    }
  }

  KubeConfig config_;
  HttpKubeClientOptions options_;
  http_client client_;
  std::mutex mutex_;
  pplx::cancellation_token_source cancel_;
  std::chrono::steady_clock::time_point token_read_at_{};
};

}  // namespace

void setHttpIoThreads(std::size_t threads) {
  crossplat::threadpool::initialize_with_threads(threads);
}

KubeClientPtr makeHttpKubeClient(const KubeConfig& config, HttpKubeClientOptions options) {
  return std::make_unique<HttpKubeClient>(config, options);
}

}  // namespace natsbus::op
