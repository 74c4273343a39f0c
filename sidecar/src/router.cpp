#include "natsbus/sidecar/router.hpp"

#include <nlohmann/json.hpp>
#include <variant>

#include "natsbus/json_text.hpp"
#include "natsbus/sidecar/metrics_listener.hpp"
#include "natsbus/sidecar/publish_batch.hpp"
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
constexpr std::string_view kPublishBatchPrefix = "/v1/publish-batch/";

HttpResponse unavailable(const std::string& message) {
  auto response = jsonError(503, message);
  // Reconnects start at 100 ms and back off; one second is a fair first retry.
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

// The 200 body, built by hand on the ack thread; appendJsonString's
// replacement of invalid UTF-8 keeps a subject like "%FF" from throwing.
std::string publishedBody(const std::string& subject, const std::string& guid) {
  std::string body;
  body.reserve(24 + subject.size() + guid.size());
  body += R"({"subject":)";
  appendJsonString(body, subject);
  body += R"(,"guid":)";
  appendJsonString(body, guid);
  body += '}';
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
  const std::string_view path = requestPath(request.target);

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
  if (path.substr(0, kPublishBatchPrefix.size()) == kPublishBatchPrefix) {
    if (request.method != "POST") return respond(methodNotAllowed("POST"));
    const auto subject = path.substr(kPublishBatchPrefix.size());
    return publishBatch(subject, std::move(request), std::move(respond));
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
  if (path == kMetricsPath) return respond(answerMetricsListener(request, stats_.registry));
  if (path == "/v1/subscriptions") {
    if (!get) return respond(methodNotAllowed("GET"));
    return respond(subscriptions());
  }
  respond(jsonError(404, "no such endpoint: " + std::string(path)));
}

std::optional<std::string> Router::subjectOf(std::string_view text, const Responder& respond) {
  auto subject = percentDecode(text);
  if (!subject) {
    respond(jsonError(400, "invalid subject: malformed percent-encoding"));
    return std::nullopt;
  }
  if (const auto problem = subjectProblem(*subject)) {
    respond(jsonError(400, "invalid subject: " + *problem));
    return std::nullopt;
  }
  return subject;
}

void Router::publish(std::string_view subject_text, HttpRequest request, Responder respond) {
  const auto subject = subjectOf(subject_text, respond);
  if (!subject) return;
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
        finishedPublish();
      });
}

void Router::finishedPublish() {
  // Decremented last: shutdown waits for this to reach zero before closing.
  if (in_flight_.fetch_sub(1) == 1 && draining_.load()) {
    std::lock_guard lock(drained_mutex_);
    drained_.notify_all();
  }
}

// One bulk publish under way: its events, their results, and how far it got.
struct Router::BatchPublish {
  std::string subject;
  std::vector<std::string> events;
  std::vector<PublishResult> results;
  Responder respond;
  std::mutex mutex;
  std::size_t next = 0;       // the next event to publish
  std::size_t in_flight = 0;  // published, waiting for the ack
  std::size_t done = 0;
  bool pumping = false;  // a pumpBatch call is publishing (callbacks may re-enter)
  bool again = false;    // an ack arrived meanwhile: the pumping call loops once more
};

void Router::publishBatch(std::string_view subject_text, HttpRequest request, Responder respond) {
  auto subject = subjectOf(subject_text, respond);
  if (!subject) return;
  if (request.body.size() > config_.max_body_bytes) {
    return respond(
        jsonError(413, "body is larger than " + std::to_string(config_.max_body_bytes) + " bytes"));
  }
  auto parsed = publish_batch::parseEvents(request.body);
  if (const auto* refusal = std::get_if<publish_batch::Refusal>(&parsed))
    return respond(jsonError(400, refusal->message));
  auto& events = std::get<std::vector<std::string>>(parsed);
  if (draining_.load()) {
    stats_.publish_failed.increment(events.size());
    return respond(unavailable("shutting down"));
  }
  // Not connected at all: the whole request is refused like a single publish,
  // so a client retries it as one.
  if (!connection_.connected()) {
    stats_.publish_failed.increment(events.size());
    return respond(unavailable("not connected to the streaming server"));
  }
  in_flight_.fetch_add(1);
  auto batch = std::make_shared<BatchPublish>();
  batch->subject = std::move(*subject);
  batch->results.resize(events.size());
  batch->events = std::move(events);
  batch->respond = std::move(respond);
  stats_.publish_in_flight.add(static_cast<std::int64_t>(batch->events.size()));
  pumpBatch(batch);
}

void Router::pumpBatch(const std::shared_ptr<BatchPublish>& batch) {
  std::unique_lock lock(batch->mutex);
  // Refusals come back inline (from inside publishAsync): the call already
  // publishing picks up where they leave off, so the stack never grows.
  if (batch->pumping) {
    batch->again = true;
    return;
  }
  batch->pumping = true;
  do {
    batch->again = false;
    while (batch->next < batch->events.size() && batch->in_flight < kBatchPublishWindow) {
      const auto index = batch->next++;
      ++batch->in_flight;
      lock.unlock();
      // Each event is published exactly once; whatever happens to it, its
      // answer lands in results[index].
      connection_.publishAsync(
          batch->subject, batch->events[index], [this, batch, index](PublishResult result) {
            if (result.outcome == PublishOutcome::kAcked) {
              stats_.published.increment();
            } else {
              stats_.publish_failed.increment();
            }
            stats_.publish_in_flight.add(-1);
            bool finished;
            {
              std::lock_guard guard(batch->mutex);
              batch->results[index] = std::move(result);
              --batch->in_flight;
              finished = ++batch->done == batch->events.size();
            }
            if (!finished) return pumpBatch(batch);
            batch->respond(HttpResponse{200,
                                        "application/json",
                                        publish_batch::resultsBody(batch->subject, batch->results),
                                        {}});
            finishedPublish();
          });
      lock.lock();
    }
  } while (batch->again);
  batch->pumping = false;
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
