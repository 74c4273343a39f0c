#!/usr/bin/env bash
# Publish through the sidecar vs a direct cnats publisher, same server, same
# run: 256-byte events at concurrency 1 and 32 (throughput, p50, p99, ratio),
# the HTTP layer alone (Beast no-op vs cpprestsdk no-op), and idle RSS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sidecar_lib.bash"
results_open sidecar_publish

start_stan
port=$(free_port)
"$sidecar_bin" --nats-url "$stan_url" --cluster-id "$stan_cid" --client-id bench-sidecar \
  --listen "127.0.0.1:$port" --log-level warn >"$work/sidecar.log" 2>&1 &
sidecar_pid=$!
pids+=($sidecar_pid)
wait_http "http://127.0.0.1:$port/readyz"
sleep 1
idle_rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$sidecar_pid/status")

printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 256)\n' >"$work/post.lua"

cp_port=$(free_port)
"$bench_bin/natsbus-bench-cpprest-noop" "$cp_port" &
pids+=($!)
wait_http "http://127.0.0.1:$cp_port/"

echo "payload 256 B, ${seconds}s per run, nats-streaming-server memory store, $(nproc) cores"
printf '%-34s %6s %10s %9s %9s %8s\n' "run" "conc" "req/s" "p50 us" "p99 us" "errors"
declare -A rps p50
for conc in 1 32; do
  threads=$([ "$conc" -eq 1 ] && echo 1 || echo 2)
  read -r d_rps d_p50 d_p99 < <("$bench_bin/natsbus-bench-direct-publish" "$stan_url" "$stan_cid" "$conc" "$seconds" 256 |
    sed -E 's/[a-z0-9_]+=//g')
  printf '%-34s %6s %10s %9s %9s %8s\n' "direct cnats async, SendAsap" "$conc" "$d_rps" "$d_p50" "$d_p99" "-"
  read -r s_rps s_p50 s_p99 s_bad < <(wrk -t"$threads" -c"$conc" -d"${seconds}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$port/v1/publish/bench.sidecar" | parse_wrk)
  printf '%-34s %6s %10s %9s %9s %8s\n' "sidecar POST /v1/publish" "$conc" "$s_rps" "$s_p50" "$s_p99" "$s_bad"
  read -r b_rps b_p50 b_p99 b_bad < <(wrk -t"$threads" -c"$conc" -d"${seconds}s" --latency \
    "http://127.0.0.1:$port/healthz" | parse_wrk)
  printf '%-34s %6s %10s %9s %9s %8s\n' "  HTTP only: Beast no-op (/healthz)" "$conc" "$b_rps" "$b_p50" "$b_p99" "$b_bad"
  read -r c_rps c_p50 c_p99 c_bad < <(wrk -t"$threads" -c"$conc" -d"${seconds}s" --latency \
    "http://127.0.0.1:$cp_port/" | parse_wrk)
  printf '%-34s %6s %10s %9s %9s %8s\n' "  HTTP only: cpprestsdk no-op" "$conc" "$c_rps" "$c_p50" "$c_p99" "$c_bad"
  record publish concurrency "$conc" "sidecar POST /v1/publish" "$s_rps" "$d_rps" "direct cnats async publish" req/s
  record http-noop concurrency "$conc" "Boost.Beast no-op (/healthz)" "$b_rps" "$c_rps" "cpprestsdk no-op" req/s
  rps[$conc]="$s_rps/$d_rps"
  p50[$conc]="$s_p50 $d_p50"
  if [ "$s_bad" -ne 0 ]; then echo "WARNING: $s_bad sidecar publishes were not answered 200" >&2; fi
done

# API token (SPEC 3.5): a second sidecar that requires a token, measured in
# alternation with the one without, so both see the same machine; the token
# check must not move the publish figures (target: within noise, <= 3%).
token="bench-token-6f1c2b9e0a7d4c3b"
tok_port=$(free_port)
NATSBUS_API_TOKEN="$token" "$sidecar_bin" --nats-url "$stan_url" --cluster-id "$stan_cid" \
  --client-id bench-sidecar-token --listen "127.0.0.1:$tok_port" --log-level warn \
  >"$work/sidecar-token.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$tok_port/readyz"
printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 256)\nwrk.headers["Natsbus-Token"] = "%s"\n' \
  "$token" >"$work/post-token.lua"
rounds="${BENCH_TOKEN_ROUNDS:-4}"
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "API token: publish with and without it, alternated, $rounds rounds of ${seconds}s each"
printf '%-34s %6s %10s %9s %8s\n' "run (median of rounds)" "conc" "req/s" "p50 us" "errors"
declare -A token_ratio
for conc in 1 32; do
  threads=$([ "$conc" -eq 1 ] && echo 1 || echo 2)
  plain_rps=(); plain_p50=(); token_rps=(); token_p50=(); pair_ratio=(); bad_total=0
  # Every run adds to the channel the server keeps in memory, so a later run
  # is a little slower: the order alternates (ABBA), and the figure is the
  # median of each round's token/plain ratio.
  for round in $(seq "$rounds"); do
    plain_run() { read -r a_rps a_p50 _ a_bad < <(wrk -t"$threads" -c"$conc" -d"${seconds}s" --latency -s "$work/post.lua" \
      "http://127.0.0.1:$port/v1/publish/bench.sidecar" | parse_wrk); }
    token_run() { read -r b_rps b_p50 _ b_bad < <(wrk -t"$threads" -c"$conc" -d"${seconds}s" --latency -s "$work/post-token.lua" \
      "http://127.0.0.1:$tok_port/v1/publish/bench.sidecar" | parse_wrk); }
    if [ $((round % 2)) -eq 1 ]; then plain_run; token_run; else token_run; plain_run; fi
    plain_rps+=("$a_rps"); plain_p50+=("$a_p50"); token_rps+=("$b_rps"); token_p50+=("$b_p50")
    pair_ratio+=("$(ratio "$b_rps" "$a_rps")")
    bad_total=$((bad_total + a_bad + b_bad))
  done
  printf '%-34s %6s %10s %9s %8s\n' "sidecar, no API token" "$conc" "$(median "${plain_rps[@]}")" "$(median "${plain_p50[@]}")" "-"
  printf '%-34s %6s %10s %9s %8s\n' "sidecar, API token checked" "$conc" "$(median "${token_rps[@]}")" "$(median "${token_p50[@]}")" "$bad_total"
  printf '%-34s %6s %s\n' "  per round req/s (no token)" "$conc" "${plain_rps[*]}"
  printf '%-34s %6s %s\n' "  per round req/s (token)" "$conc" "${token_rps[*]}"
  printf '%-34s %6s %s\n' "  per round ratio token/no token" "$conc" "${pair_ratio[*]}"
  token_ratio[$conc]=$(median "${pair_ratio[@]}")
  record publish-token concurrency "$conc" "sidecar, API token checked (ratio: median of per-round ratios)" \
    "$(median "${token_rps[@]}")" "$(median "${plain_rps[@]}")" "sidecar, no API token" req/s "${token_ratio[$conc]}"
  if [ "$bad_total" -ne 0 ]; then echo "WARNING: $bad_total publishes were not answered 200" >&2; fi
done

read -r s1 d1 <<<"${p50[1]}"
echo
echo "throughput ratio sidecar/direct: conc 1 = $(ratio ${rps[1]%/*} ${rps[1]#*/}), conc 32 = $(ratio ${rps[32]%/*} ${rps[32]#*/})   (target >= 0.5 at 32)"
echo "added p50 latency at conc 1: $((s1 - d1)) us   (target <= 100 us)"
echo "sidecar idle RSS: $((idle_rss_kb / 1024)) MB ($idle_rss_kb kB)   (target <= 15 MB)"
echo "API token: throughput with/without, median of per-round ratios: conc 1 = ${token_ratio[1]}, conc 32 = ${token_ratio[32]}   (target: within noise, >= 0.97)"
