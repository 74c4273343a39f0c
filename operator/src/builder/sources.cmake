# Sources of the builder: NatsStreaming -> Deployment/Service/PVC (pure) and the YAML of `render`.
target_sources(natsbus_operator_builder PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bus_spec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/children.cpp
  ${CMAKE_CURRENT_LIST_DIR}/defaults.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/render.cpp
  ${CMAKE_CURRENT_LIST_DIR}/secrets.cpp
  ${CMAKE_CURRENT_LIST_DIR}/yaml_json.cpp)
