# Sources of the builder area: NatsStreaming -> Deployment/Service/PVC (pure) and `render`.
target_sources(natsbus_operator_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bus_spec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/children.cpp
  ${CMAKE_CURRENT_LIST_DIR}/defaults.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/render.cpp
  ${CMAKE_CURRENT_LIST_DIR}/render_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/secrets.cpp
  ${CMAKE_CURRENT_LIST_DIR}/yaml_json.cpp)
