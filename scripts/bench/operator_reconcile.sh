#!/usr/bin/env bash
# Operator benchmark: resource created -> Deployment, Service and status present
# (p50/p99 over 100 resources) as a ratio to the same requests issued directly by
# one HTTP client against the same real kube-apiserver in the same run; time to
# converge 10, 100, 500 and 1,000 resources created back to back, each against
# the same requests issued sequentially; the operator's RSS with the 1,000 cached.
#   NATSBUS_BUILD_DIR (or BUILD_DIR)  build tree to use (default: build)
#   BENCH_SAMPLES / BENCH_SCALE  override 100 / "10,100,500,1000" (counts, comma-separated)
#   BENCH_RESULTS_DIR  where operator_reconcile.tsv goes (default: <build>/bench-results)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BUILD_DIR="${NATSBUS_BUILD_DIR:-${BUILD_DIR:-build}}"
build="$BUILD_DIR"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
source "$root/scripts/bench/results_lib.bash"
cmake --build "$build" --target operator_reconcile_bench natsbus-operator >/dev/null
points="$(mktemp "${TMPDIR:-/tmp}/natsbus-operator-bench.XXXXXX")"
trap 'rm -f "$points"' EXIT
results_open operator_reconcile
BENCH_POINTS_FILE="$points" "$build/tests/bench/operator/operator_reconcile_bench" \
  "${BENCH_SAMPLES:-100}" "${BENCH_SCALE:-10,100,500,1000}"

while IFS=$'\t' read -r measure x operator_ms direct_ms; do
  case "$measure" in
    converge)
      record converge resources "$x" "natsbus-operator, last status written" \
        "$(awk -v v="$operator_ms" 'BEGIN { printf "%.3f", v / 1000 }')" \
        "$(awk -v v="$direct_ms" 'BEGIN { printf "%.3f", v / 1000 }')" \
        "one HTTP client issuing the same requests sequentially" s ;;
    reconcile-p*)
      record "$measure" percentile "$x" "natsbus-operator, created -> children and status" \
        "$operator_ms" "$direct_ms" "one HTTP client issuing the same requests" ms ;;
    *) echo "operator_reconcile.sh: unexpected point '$measure' from the driver" >&2; exit 1 ;;
  esac
done <"$points"
