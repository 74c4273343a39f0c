#include "natsbus/sidecar/router.hpp"

#include <nlohmann/json.hpp>

#include "natsbus/subject.hpp"

namespace natsbus::sidecar {

int publishStatus(PublishOutcome outcome) {
  switch (outcome) {
    case PublishOutcome::kAcked:
      return 200;
    case PublishOutcome::kNotConnected:
    case PublishOutcome::kOverloaded:
      return 503;
    case PublishOutcome::kTimeout:
      return 504;
    case PublishOutcome::kRejected:
      return 502;
  }
  return 500;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex(text[i + 1]);
    const int low = hex(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

namespace {

constexpr std::string_view kPublishPrefix = "/v1/publish/";

HttpResponse methodNotAllowed(const char* allowed) {
  auto response = jsonError(405, std::string("method not allowed; use ") + allowed);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

HttpResponse unavailable(const std::string& message) {
  auto response = jsonError(503, message);
  // Reconnects start at 100 ms and back off; one second is a fair first retry.
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

// The 200 body, built by hand on the ack thread for the common case (plain
// ASCII without quotes or backslashes); anything else goes through nlohmann,
// whose replacement of invalid UTF-8 keeps a subject like "%FF" from throwing.
std::string publishedBody(const std::string& subject, const std::string& guid) {
  const auto plain = [](const std::string& text) {
    for (const unsigned char c : text) {
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
  };
  if (!plain(subject) || !plain(guid)) {
    return nlohmann::json{{"subject", subject}, {"guid", guid}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string body;
  body.reserve(24 + subject.size() + guid.size());
  body += R"({"subject":")";
  body += subject;
  body += R"(","guid":")";
  body += guid;
  body += R"("})";
  return body;
}

}  // namespace

Router::Router(StreamingConnection& connection, Stats& stats, const SidecarConfig& config)
    : connection_(connection), stats_(stats), config_(config), api_token_(config.api_token) {}

bool Router::ready() const {
  if (!connection_.connected()) return false;
  for (std::size_t i = 0; i < config_.subscriptions.size(); ++i) {
    if (!connection_.subscriptionActive(i)) return false;
  }
  return true;
}

void Router::handle(HttpRequest request, Responder respond) {
  std::string_view path = request.target;
  if (const auto query = path.find('?'); query != std::string_view::npos)
    path = path.substr(0, query);

  const bool get = request.method == "GET" || request.method == "HEAD";
  // The probes stay open: the kubelet's readiness check carries no token.
  const bool open = get && (path == "/healthz" || path == "/readyz");
  if (!open && !api_token_.accepts(request)) {
    stats_.unauthorized.increment();
    return respond(ApiToken::refusal(!request.header(kTokenHeader).empty() ||
                                     !request.header("Authorization").empty()));
  }

  if (path.substr(0, kPublishPrefix.size()) == kPublishPrefix) {
    if (request.method != "POST") return respond(methodNotAllowed("POST"));
    const auto subject = path.substr(kPublishPrefix.size());
    return publish(subject, std::move(request), std::move(respond));
  }
  if (path == "/healthz") {
    if (!get) return respond(methodNotAllowed("GET"));
    return respond(HttpResponse{200, "application/json", R"({"status":"ok"})", {}});
  }
  if (path == "/readyz") {
    if (!get) return respond(methodNotAllowed("GET"));
    if (ready()) return respond(HttpResponse{200, "application/json", R"({"status":"ready"})", {}});
    return respond(unavailable(connection_.connected() ? "not every subscription is active yet"
                                                       : "not connected to the streaming server"));
  }
  if (path == "/metrics") {
    if (!get) return respond(methodNotAllowed("GET"));
    return respond(HttpResponse{200, MetricsRegistry::kContentType, stats_.registry.render(), {}});
  }
  if (path == "/v1/subscriptions") {
    if (!get) return respond(methodNotAllowed("GET"));
    return respond(subscriptions());
  }
  respond(jsonError(404, "no such endpoint: " + std::string(path)));
}

void Router::publish(std::string_view subject_text, HttpRequest request, Responder respond) {
  const auto subject = percentDecode(subject_text);
  if (!subject) return respond(jsonError(400, "invalid subject: malformed percent-encoding"));
  if (const auto problem = subjectProblem(*subject))
    return respond(jsonError(400, "invalid subject: " + *problem));
  if (request.body.size() > config_.max_body_bytes) {
    return respond(
        jsonError(413, "body is larger than " + std::to_string(config_.max_body_bytes) + " bytes"));
  }
  if (draining_.load()) {
    stats_.publish_failed.increment();
    return respond(unavailable("shutting down"));
  }
  in_flight_.fetch_add(1);
  stats_.publish_in_flight.add(1);
  connection_.publishAsync(
      *subject, request.body,
      [this, subject = *subject, respond = std::move(respond)](PublishResult result) {
        const int status = publishStatus(result.outcome);
        HttpResponse response;
        if (status == 200) {
          stats_.published.increment();
          response.body = publishedBody(subject, result.guid);
        } else {
          stats_.publish_failed.increment();
          response = status == 503 ? unavailable(result.error) : jsonError(status, result.error);
        }
        stats_.publish_in_flight.add(-1);
        respond(std::move(response));
        // Decremented last: shutdown waits for this to reach zero before closing.
        if (in_flight_.fetch_sub(1) == 1 && draining_.load()) {
          std::lock_guard lock(drained_mutex_);
          drained_.notify_all();
        }
      });
}

bool Router::waitForPublishes(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(drained_mutex_);
  return drained_.wait_until(lock, deadline, [this] { return in_flight_.load() == 0; });
}

HttpResponse Router::subscriptions() const {
  auto array = nlohmann::json::array();
  for (std::size_t i = 0; i < config_.subscriptions.size(); ++i) {
    nlohmann::json entry = config_.subscriptions[i];
    const auto& s = stats_.subscriptions[i];
    entry["state"] = connection_.subscriptionActive(i) ? "active" : "inactive";
    entry["delivered"] = s.delivered->value();
    entry["acked"] = s.acked->value();
    entry["failed"] = s.failed->value();
    entry["redelivered"] = s.redelivered->value();
    entry["inFlight"] = s.in_flight->value();
    entry["deadLettered"] = s.dead_lettered->value();
    entry["deadLetterFailures"] = s.dead_letter_failures->value();
    array.push_back(std::move(entry));
  }
  return HttpResponse{200, "application/json", nlohmann::json{{"subscriptions", array}}.dump(), {}};
}

}  // namespace natsbus::sidecar
