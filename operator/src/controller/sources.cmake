# Sources of the controller area: informers, work queue, reconciler, status,
# leader election, health/metrics server, bus statistics and the `run` command.
target_sources(natsbus_operator_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bus_metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/bus_stats.cpp
  ${CMAKE_CURRENT_LIST_DIR}/clock.cpp
  ${CMAKE_CURRENT_LIST_DIR}/controller.cpp
  ${CMAKE_CURRENT_LIST_DIR}/health_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/informer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/leader_election.cpp
  ${CMAKE_CURRENT_LIST_DIR}/own_writes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_cluster.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_cluster_io.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reconciler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/run_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stats_pass.cpp
  ${CMAKE_CURRENT_LIST_DIR}/secret_watch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/status.cpp
  ${CMAKE_CURRENT_LIST_DIR}/work_queue.cpp)
