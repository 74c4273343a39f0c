# Sources of the kube area: target_sources(natsbus_operator_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/x.cpp)
