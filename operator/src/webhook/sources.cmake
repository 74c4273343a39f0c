# Sources of the webhook area: sidecar injection (pure) and its HTTPS server.
target_sources(natsbus_operator_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/admission.cpp
  ${CMAKE_CURRENT_LIST_DIR}/certificate_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/injection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/webhook_server.cpp)
