# Sources of the kube area: the Kubernetes API client (kubeconfig, HTTP, watches).
target_sources(natsbus_operator_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/kinds.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kube_config.cpp
  ${CMAKE_CURRENT_LIST_DIR}/http_kube_client.cpp)
