#!/usr/bin/env bash
# Issue 15's throughput targets, as ratios within one run against the same
# nats-streaming-server (256-byte messages):
#   - batch delivery (batch.maxMessages 100, maxInFlight 500) vs a direct cnats
#     manual-ack subscriber (maxInFlight 500) draining the same number of
#     pre-stored messages;
#   - per-message delivery at maxInFlight 64 vs direct at 64, and its share of
#     the HTTP-only ceiling (wrk, 64 keep-alive POSTs to the same no-op app);
#   - the sidecar's CPU per delivered message (utime+stime from /proc/<pid>/stat);
#   - bulk publish, 100-event batches from 8 connections (wrk), vs a direct cnats
#     async publisher with 800 publishes in flight.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sidecar_lib.bash"
results_open sidecar_batch

messages="${BENCH_MESSAGES:-50000}"
clk_tck=$(getconf CLK_TCK)
start_stan

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# deliver NAME SUBSCRIPTION_JSON_EXTRA -> sets rate (msgs/s) and cpu_us (sidecar CPU µs per message)
deliver() {
  local channel="$1" extra="$2" port app_port before after
  "$bench_bin/natsbus-bench-timed-publish" "$stan_url" "$stan_cid" "$channel" "$messages" 0 256
  app_port=$(free_port)
  start_app "$app_port" "$messages"
  port=$(free_port)
  "$sidecar_bin" --nats-url "$stan_url" --cluster-id "$stan_cid" --client-id "bench-${channel//./-}" \
    --listen "127.0.0.1:$port" --log-level warn --app-url "http://127.0.0.1:$app_port" \
    --subscriptions "[{\"subject\":\"$channel\",\"path\":\"/bench\",\"deliverAllAvailable\":true,$extra}]" \
    >"$work/sidecar-$channel.log" 2>&1 &
  local sc_pid=$!
  pids+=($sc_pid)
  wait "$app_pid" || { echo "the app did not receive every message:" >&2; cat "$work/app.err" "$work/sidecar-$channel.log" >&2; exit 1; }
  after=$(cpu_ticks "$sc_pid")
  kill "$sc_pid"; wait "$sc_pid" || true
  rate=$(sed -E 's/msgs_per_s=//' "$work/app.out" | tail -1)
  # Start-up (connect, subscribe) is included: a few ms against seconds of delivery.
  cpu_us=$(awk -v t="$after" -v hz="$clk_tck" -v n="$messages" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
}

direct_sub() {  # CHANNEL MAX_IN_FLIGHT -> msgs/s
  "$bench_bin/natsbus-bench-timed-publish" "$stan_url" "$stan_cid" "$1" "$messages" 0 256
  "$bench_bin/natsbus-bench-direct-subscribe" "$stan_url" "$stan_cid" "$1" "$messages" "$2" | sed -E 's/msgs_per_s=//'
}

echo "payload 256 B, $messages stored messages per delivery run, ${seconds}s per publish run, memory store, $(nproc) cores"
printf '%-58s %12s %8s %10s\n' "run" "msgs/s" "ratio" "CPU us/msg"

direct500=$(direct_sub direct.500 500)
printf '%-58s %12s %8s %10s\n' "direct cnats manual-ack, maxInFlight 500" "$direct500" "1.00" "-"
deliver batch.100 '"maxInFlight":500,"batch":{"maxMessages":100,"maxWait":"5ms"}'
batch_rate=$rate batch_cpu=$cpu_us
batch_ratio=$(ratio "$batch_rate" "$direct500")
printf '%-58s %12s %8s %10s\n' "sidecar batch maxMessages 100, maxInFlight 500" "$batch_rate" "$batch_ratio" "$batch_cpu"
record delivery maxInFlight 500 "sidecar -> app, batch.maxMessages 100" "$batch_rate" "$direct500" \
  "direct cnats manual-ack subscriber" msgs/s

direct64=$(direct_sub direct.64 64)
printf '%-58s %12s %8s %10s\n' "direct cnats manual-ack, maxInFlight 64" "$direct64" "1.00" "-"
deliver single.64 '"maxInFlight":64'
single_rate=$rate single_cpu=$cpu_us
single_ratio=$(ratio "$single_rate" "$direct64")
printf '%-58s %12s %8s %10s\n' "sidecar per message, maxInFlight 64" "$single_rate" "$single_ratio" "$single_cpu"
record delivery maxInFlight 64 "sidecar -> app, per message" "$single_rate" "$direct64" \
  "direct cnats manual-ack subscriber" msgs/s

ceiling=$(http_ceiling)
printf '%-58s %12s %8s %10s\n' "wrk -> no-op app, 64 conns (HTTP only, no NATS)" "$ceiling" "$(ratio "$ceiling" "$direct64")" "-"
record delivery maxInFlight 64 "HTTP only: wrk -> no-op app, 64 conns (no NATS)" "$ceiling" "$direct64" \
  "direct cnats manual-ack subscriber" msgs/s

# Bulk publish: one body of 100 events of 256 random bytes each, base64.
python3 - "$work/batch.lua" <<'PY'
import base64, json, os, sys
events = [{"data": base64.b64encode(os.urandom(256)).decode()} for _ in range(100)]
body = json.dumps(events).replace("\\", "\\\\").replace('"', '\\"')
open(sys.argv[1], "w").write(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                             'wrk.headers["Content-Type"] = "application/json"\n')
PY
port=$(free_port)
"$sidecar_bin" --nats-url "$stan_url" --cluster-id "$stan_cid" --client-id bench-bulk \
  --listen "127.0.0.1:$port" --log-level warn >"$work/sidecar-bulk.log" 2>&1 &
bulk_pid=$!
pids+=($bulk_pid)
wait_http "http://127.0.0.1:$port/readyz"
read -r d_rps _ < <("$bench_bin/natsbus-bench-direct-publish" "$stan_url" "$stan_cid" 800 "$seconds" 256 |
  sed -E 's/[a-z0-9_]+=//g')
printf '%-58s %12s %8s %10s\n' "direct cnats async publish, 800 in flight" "$d_rps" "1.00" "-"
before=$(cpu_ticks "$bulk_pid")
read -r b_rps _ _ b_bad < <(wrk -t2 -c8 -d"${seconds}s" --latency -s "$work/batch.lua" \
  "http://127.0.0.1:$port/v1/publish-batch/bench.bulk" | parse_wrk)
after=$(cpu_ticks "$bulk_pid")
bulk_rate=$(awk -v r="$b_rps" 'BEGIN { printf "%.0f", r * 100 }')
bulk_cpu=$(awk -v t="$((after - before))" -v hz="$clk_tck" -v n="$bulk_rate" -v s="$seconds" \
  'BEGIN { printf "%.2f", t / hz * 1e6 / (n * s) }')
bulk_ratio=$(ratio "$bulk_rate" "$d_rps")
printf '%-58s %12s %8s %10s\n' "sidecar POST /v1/publish-batch, 100 events, 8 conns" "$bulk_rate" "$bulk_ratio" "$bulk_cpu"
record publish concurrency 8 "sidecar POST /v1/publish-batch, 100 events a request" "$bulk_rate" "$d_rps" \
  "direct cnats async publish, 800 in flight" events/s
if [ "$b_bad" -ne 0 ]; then echo "WARNING: $b_bad bulk publishes were not answered 200" >&2; fi
# Where bulk publish spends: reading that body, the sidecar's reader (simdjson
# for the common body) against the SAX reader it falls back to.
read -r parse_fast parse_sax < <("$bench_bin/natsbus-bench-parse-events" | sed -E 's/[a-z_]+=//g')
printf '%-58s %12s %8s\n' "reading one 100-event body: sidecar / nlohmann SAX (us)" "$parse_fast / $parse_sax" \
  "$(ratio "$parse_sax" "$parse_fast")x"

echo
echo "batch delivery / direct (maxInFlight 500) = $batch_ratio   (target >= 0.8)"
echo "per-message delivery / direct (maxInFlight 64) = $single_ratio   (target >= 0.4); share of the HTTP-only ceiling = $(ratio "$single_rate" "$ceiling")"
echo "bulk publish / direct async (800 in flight) = $bulk_ratio   (target >= 0.8)"
echo "sidecar CPU per message: batch $batch_cpu us, per message $single_cpu us, bulk publish $bulk_cpu us"
