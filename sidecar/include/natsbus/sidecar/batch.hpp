#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "natsbus/sidecar/streaming_connection.hpp"

// Batch delivery (SPEC 3.6), the pure part: the request a batch of messages
// becomes, and what the app's answer means for each of them.
namespace natsbus::sidecar::batch {

// What the app decided for one message of a batch.
enum class Verdict {
  kSuccess,  // ack it
  kRetry,    // leave it un-acked: the server redelivers it after ackWait
  kDrop,     // dead-letter it (or, without a deadLetterSubject, treat as kRetry)
};

// `{"messages":[{"subject","sequence","timestamp","redelivered","data"}]}`,
// timestamp in RFC 3339 with nanoseconds (as Natsbus-Timestamp), data the bytes
// in base64, so any payload survives the JSON.
std::string requestBody(const std::vector<ReceivedMessage>& messages);

struct Answer {
  std::vector<Verdict> verdicts;  // one per message, in batch order
  // Why some or all of the answer was not understood ("" when it all was). The
  // messages it concerns are kRetry.
  std::string problem;
};

// Reads a 2xx answer to a batch of messages with these sequences (in batch
// order). An empty body (or only whitespace) means every message succeeded.
// Otherwise the body must be `{"statuses":[{"sequence":N,"status":"SUCCESS"|
// "RETRY"|"DROP"},...]}`, and a message is
//   - kSuccess only when every entry for its sequence says SUCCESS,
//   - kDrop only when every entry for its sequence says DROP,
//   - kRetry otherwise: no entry, entries that disagree, an entry for its
//     sequence that is malformed (unknown status, wrong type), or an answer
//     that is not that shape at all.
// So nothing the app did not mark SUCCESS is ever acked. Entries for sequences
// not in the batch are ignored (and named in `problem`). Memory stays bounded
// by the batch whatever the answer holds (the body is read as a stream, never
// built into a document).
Answer parseAnswer(std::string_view body, const std::vector<std::uint64_t>& sequences);

}  // namespace natsbus::sidecar::batch
