#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "natsbus/sidecar/streaming_connection.hpp"

// Bulk publish (SPEC 3.2, POST /v1/publish-batch/{subject}), the pure part:
// reading the request body and writing the answer.
namespace natsbus::sidecar::publish_batch {

// Why a body was refused, naming the event when it is about one
// ("events[3]: has both data and text; give one of them").
struct Refusal {
  std::string message;
};

// The events of a body that is a non-empty JSON array of objects, each with
// exactly one of "data" (base64, RFC 4648 with padding: any bytes) or "text"
// (a string, published as its UTF-8 bytes). Anything else is refused with the
// first problem found. The common body (no escapes) is read with simdjson; any
// other goes to parseEventsWithSax, which decides and names the problem.
std::variant<std::vector<std::string>, Refusal> parseEvents(std::string_view body);

// The reference reader: nlohmann's SAX interface, as a stream (no document is
// built). parseEvents must always give what this gives; tests compare them.
std::variant<std::vector<std::string>, Refusal> parseEventsWithSax(std::string_view body);

// `{"subject":"…","results":[{"index":0,"guid":"…"},{"index":1,"error":"…"}]}`,
// one result per event in input order.
std::string resultsBody(std::string_view subject, const std::vector<PublishResult>& results);

}  // namespace natsbus::sidecar::publish_batch
