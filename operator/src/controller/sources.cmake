# Sources of the controller area: target_sources(natsbus_operator_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/x.cpp)
target_sources(natsbus_operator_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/run_command.cpp)
