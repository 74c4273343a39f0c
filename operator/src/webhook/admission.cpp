#include "natsbus/operator/admission.hpp"

#include <spdlog/spdlog.h>

#include "natsbus/base64.hpp"
#include "natsbus/operator/injection.hpp"
#include "natsbus/validation_error.hpp"

namespace natsbus::op {
namespace {

using nlohmann::json;

constexpr std::string_view kApiVersion = "admission.k8s.io/v1";
constexpr std::string_view kKind = "AdmissionReview";

// Input may hold any bytes the parser quoted back in an error message; never let
// dump() throw on invalid UTF-8.
std::string dumpJson(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& requireMember(const json& parent, const char* key, std::string_view path,
                          json::value_t type) {
  auto found = parent.find(key);
  const std::string where = path.empty() ? std::string(key) : std::string(path) + "." + key;
  if (found == parent.end() || found->is_null()) throw MalformedReview(where + ": required");
  if (found->type() != type) {
    throw MalformedReview(where + ": must be " + std::string(json(type).type_name()) + ", not " +
                          found->type_name());
  }
  return *found;
}

std::string optionalString(const json& parent, const char* key) {
  auto found = parent.find(key);
  if (found == parent.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

json allowed(const std::string& uid) {
  return json{{"uid", uid}, {"allowed", true}};
}

json refused(const std::string& uid, const std::string& message) {
  return json{
      {"uid", uid},
      {"allowed", false},
      {"status",
       {{"status", "Failure"}, {"code", 400}, {"reason", "BadRequest"}, {"message", message}}}};
}

json podResponse(const std::string& uid, const json& request, const json& pod,
                 const BusLookup& buses, const InjectionSettings& settings) {
  // Registered for pod CREATE only; anything else passes untouched.
  const std::string operation = optionalString(request, "operation");
  if (!operation.empty() && operation != "CREATE") return allowed(uid);
  if (auto kind = request.find("kind");
      kind != request.end() && kind->is_object() && optionalString(*kind, "kind") != "Pod") {
    return allowed(uid);
  }

  std::string ns = optionalString(request, "namespace");
  if (ns.empty()) {
    if (auto metadata = pod.find("metadata"); metadata != pod.end() && metadata->is_object()) {
      ns = optionalString(*metadata, "namespace");
    }
  }

  try {
    if (!wantsInjection(pod)) return allowed(uid);
    if (alreadyInjected(pod)) return allowed(uid);  // idempotent: never a second sidecar
    requireMember(pod, "spec", "request.object", json::value_t::object);
    if (ns.empty()) throw MalformedReview("request.namespace: required");
    const json mutated = injectSidecar(pod, ns, buses, settings);
    const json patch = json::diff(pod, mutated);
    json response = allowed(uid);
    response["patchType"] = "JSONPatch";
    response["patch"] = base64Encode(dumpJson(patch));
    return response;
  } catch (const ValidationError& error) {
    return refused(uid, error.what());
  }
}

}  // namespace

json reviewPodAdmission(const json& review, const BusLookup& buses,
                        const InjectionSettings& settings) {
  if (!review.is_object())
    throw MalformedReview(std::string("body: must be an AdmissionReview object, not ") +
                          review.type_name());
  const std::string api_version = optionalString(review, "apiVersion");
  const std::string kind = optionalString(review, "kind");
  if (api_version != kApiVersion || kind != kKind) {
    throw MalformedReview("apiVersion/kind: must be admission.k8s.io/v1 AdmissionReview, not \"" +
                          api_version + "\" \"" + kind + "\"");
  }
  const json& request = requireMember(review, "request", "", json::value_t::object);
  const json& uid = requireMember(request, "uid", "request", json::value_t::string);
  if (uid.get<std::string>().empty()) throw MalformedReview("request.uid: must not be empty");
  const json& pod = requireMember(request, "object", "request", json::value_t::object);

  json response;
  try {
    response = podResponse(uid.get<std::string>(), request, pod, buses, settings);
  } catch (const json::exception& error) {
    // A well-formed review from the API server never gets here; a hand-made one
    // with, say, a string where the pod spec belongs does.
    throw MalformedReview(std::string("request.object: not a valid Pod: ") + error.what());
  }
  return json{{"apiVersion", kApiVersion}, {"kind", kKind}, {"response", std::move(response)}};
}

HttpAnswer answerAdmissionRequest(std::string_view body, const BusLookup& buses,
                                  const InjectionSettings& settings) noexcept {
  const auto error = [](int status, const std::string& message) {
    try {
      return HttpAnswer{status, dumpJson(json{{"error", message}})};
    } catch (...) {
      return HttpAnswer{status, R"({"error":"internal error"})"};
    }
  };
  try {
    json review;
    try {
      review = json::parse(body);
    } catch (const json::parse_error& parse_error) {
      return error(400, "body: not JSON (byte " + std::to_string(parse_error.byte) +
                            "): " + parse_error.what());
    } catch (const json::exception& parse_error) {  // e.g. out_of_range for "1e400"
      return error(400, std::string("body: not JSON: ") + parse_error.what());
    }
    return HttpAnswer{200, dumpJson(reviewPodAdmission(review, buses, settings))};
  } catch (const MalformedReview& malformed) {
    return error(400, malformed.what());
  } catch (const std::exception& unexpected) {
    spdlog::error("webhook: unexpected error answering an admission review: {}", unexpected.what());
    return error(500, std::string("internal error: ") + unexpected.what());
  } catch (...) {
    return error(500, "internal error");
  }
}

}  // namespace natsbus::op
