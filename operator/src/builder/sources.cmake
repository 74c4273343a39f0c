# Sources of the builder area: target_sources(natsbus_operator_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/x.cpp)
target_sources(natsbus_operator_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/render_command.cpp)
