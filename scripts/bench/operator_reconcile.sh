#!/usr/bin/env bash
# Operator benchmark: resource created -> Deployment, Service and status present
# (p50/p99 over 100 resources) as a ratio to the same requests issued directly by
# one HTTP client against the same real kube-apiserver in the same run; time to
# converge 1,000 resources; the operator's RSS with them cached.
#   NATSBUS_BUILD_DIR  build tree to use (default: build)
#   BENCH_SAMPLES / BENCH_SCALE  override 100 / 1000
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${NATSBUS_BUILD_DIR:-$root/build}"
cmake --build "$build" --target operator_reconcile_bench natsbus-operator >/dev/null
exec "$build/tests/bench/operator/operator_reconcile_bench" "${BENCH_SAMPLES:-100}" "${BENCH_SCALE:-1000}"
