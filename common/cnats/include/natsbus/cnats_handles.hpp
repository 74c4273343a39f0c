#pragma once

#include <nats/nats.h>

#include <memory>

namespace natsbus {

// RAII owners for cnats handles: each is destroyed by its own *_Destroy function.
// Some destroy functions return a status; a destructor has nobody to report it to.
template <auto Destroy>
struct CnatsDeleter {
  template <typename Handle>
  void operator()(Handle* handle) const noexcept {
    if (handle != nullptr) static_cast<void>(Destroy(handle));
  }
};

using NatsOptionsPtr = std::unique_ptr<natsOptions, CnatsDeleter<natsOptions_Destroy>>;
using NatsConnectionPtr = std::unique_ptr<natsConnection, CnatsDeleter<natsConnection_Destroy>>;
using NatsSubscriptionPtr =
    std::unique_ptr<natsSubscription, CnatsDeleter<natsSubscription_Destroy>>;
using NatsMsgPtr = std::unique_ptr<natsMsg, CnatsDeleter<natsMsg_Destroy>>;
using StanConnOptionsPtr = std::unique_ptr<stanConnOptions, CnatsDeleter<stanConnOptions_Destroy>>;
using StanSubOptionsPtr = std::unique_ptr<stanSubOptions, CnatsDeleter<stanSubOptions_Destroy>>;
using StanConnectionPtr = std::unique_ptr<stanConnection, CnatsDeleter<stanConnection_Destroy>>;
using StanSubscriptionPtr =
    std::unique_ptr<stanSubscription, CnatsDeleter<stanSubscription_Destroy>>;
using StanMsgPtr = std::unique_ptr<stanMsg, CnatsDeleter<stanMsg_Destroy>>;

}  // namespace natsbus
