#!/usr/bin/env bash
# `make bench`: runs every benchmark script under scripts/bench/. Each prints its
# figures as ratios against a baseline measured in the same run, and writes the
# same points to $BENCH_RESULTS_DIR/<benchmark>.tsv (default build/bench-results;
# format: scripts/bench/results_lib.bash). Then the result files are copied to
# docs/bench/results/ and the charts in docs/bench/ are drawn from them
# (scripts/bench/plot.py; `make bench-plots` redraws them alone).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shopt -s nullglob
scripts=("$root"/scripts/bench/*.sh)
if [ ${#scripts[@]} -eq 0 ]; then
  echo "make bench: no benchmarks exist yet."
  exit 0
fi
build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
export BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$build/bench-results}"
mkdir -p "$BENCH_RESULTS_DIR"
rm -f "$BENCH_RESULTS_DIR"/*.tsv
for script in "${scripts[@]}"; do
  echo "=== $(basename "$script")"
  bash "$script"
done
echo "=== charts"
results=("$BENCH_RESULTS_DIR"/*.tsv)
if [ ${#results[@]} -eq 0 ]; then
  echo "make bench: no result files in $BENCH_RESULTS_DIR, no charts drawn" >&2
  exit 1
fi
mkdir -p "$root/docs/bench/results"
cp "${results[@]}" "$root/docs/bench/results/"
"$root/scripts/bench/plot.py" "$root/docs/bench/results" "$root/docs/bench"
