#!/usr/bin/env bash
# A Raft-clustered bus (3 nodes, the builder's StatefulSet args on loopback) vs
# a single file-store server, same run, same payload (256 B): publish through
# the sidecar to each, and a direct cnats client (async, SendAsap) against the
# same cluster; throughput ratios and p50/p99 latency at concurrency 1 and 32.
# Then the time from kill -9 of the leader to the first publish answered 200
# through the sidecar (p50 over KILLS kills, default 10).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sidecar_lib.bash"
results_open cluster_publish
cluster_bin="$build/tests/bench/cluster/natsbus-bench-cluster"
[ -x "$cluster_bin" ] || { echo "missing $cluster_bin (build first)" >&2; exit 1; }
kills="${KILLS:-10}"

"$cluster_bin" up "$work/servers.env" >"$work/cluster.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 60))
until [ -s "$work/servers.env" ]; do
  [ $SECONDS -lt $deadline ] || { echo "cluster did not start:"; cat "$work/cluster.log"; exit 1; } >&2
  sleep 0.1
done
source "$work/servers.env"

start_sidecar() {  # url -> prints the port
  local port; port=$(free_port)
  "$sidecar_bin" --nats-url "$1" --cluster-id "$cluster_id" --listen "127.0.0.1:$port" \
    --log-level warn >>"$work/sidecars.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/readyz" 30
  echo "$port"
}
cluster_port=$(start_sidecar "$cluster_urls")
single_port=$(start_sidecar "$single_url")
sleep 1
printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 256)\n' >"$work/post.lua"

echo "payload 256 B, ${seconds}s per run, file store everywhere, 3 Raft nodes on loopback, $(nproc) cores"
printf '%-40s %6s %10s %9s %9s %8s\n' "run" "conc" "req/s" "p50 us" "p99 us" "errors"
declare -A res
for conc in 1 32; do
  threads=$([ "$conc" -eq 1 ] && echo 1 || echo 2)
  read -r rps p50 p99 < <("$bench_bin/natsbus-bench-direct-publish" "$cluster_node0_url" "$cluster_id" \
    "$conc" "$seconds" 256 | sed -E 's/[a-z0-9_]+=//g')
  printf '%-40s %6s %10s %9s %9s %8s\n' "direct cnats -> 3-node cluster" "$conc" "$rps" "$p50" "$p99" "-"
  res[direct_$conc]="$rps $p50 $p99"
  for target in cluster single; do
    port_var="${target}_port"
    read -r rps p50 p99 bad < <(wrk -t"$threads" -c"$conc" -d"${seconds}s" --latency -s "$work/post.lua" \
      "http://127.0.0.1:${!port_var}/v1/publish/bench.$target" | parse_wrk)
    label=$([ "$target" = cluster ] && echo "sidecar -> 3-node cluster" || echo "sidecar -> single server")
    printf '%-40s %6s %10s %9s %9s %8s\n' "$label" "$conc" "$rps" "$p50" "$p99" "$bad"
    res[${target}_$conc]="$rps $p50 $p99"
    if [ "$bad" -ne 0 ]; then echo "WARNING: $bad publishes to the $target were not answered 200" >&2; fi
  done
done
echo
for conc in 1 32; do
  read -r c_rps c_p50 c_p99 <<<"${res[cluster_$conc]}"
  read -r s_rps s_p50 s_p99 <<<"${res[single_$conc]}"
  read -r d_rps d_p50 d_p99 <<<"${res[direct_$conc]}"
  record publish concurrency "$conc" "sidecar POST /v1/publish -> 3-node Raft cluster" "$c_rps" "$d_rps" \
    "direct cnats async publish -> the same cluster" req/s
  record publish-cluster-vs-single concurrency "$conc" "sidecar -> 3-node Raft cluster" "$c_rps" "$s_rps" \
    "sidecar -> single file-store server" req/s
  echo "conc $conc: sidecar cluster/single throughput $(ratio "$c_rps" "$s_rps"), sidecar/direct on the cluster $(ratio "$c_rps" "$d_rps");" \
    "p50 cluster ${c_p50} us vs single ${s_p50} us vs direct ${d_p50} us; p99 ${c_p99} / ${s_p99} / ${d_p99} us"
done
echo
echo "leader kill -9 -> first publish answered 200 through the sidecar ($kills kills):"
"$cluster_bin" recovery "$kills"
