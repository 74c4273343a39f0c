# Machine-readable benchmark results (sourced by scripts/bench/*.sh; the .bash
# suffix keeps `make bench` from running it on its own). Each benchmark writes
# one TSV file, $results_dir/<benchmark>.tsv, that scripts/bench/plot.py reads:
#
#   # natsbus bench <benchmark>: <UTC time>, commit <sha>, <cores> cores, load <1-min loadavg>
#   measure  x_name  x  series  value  baseline  baseline_series  ratio  unit
#   publish  concurrency  32  sidecar POST /v1/publish  41234  70321  direct cnats async publish  0.59  req/s
#
# one line per measured point: what was measured (measure, series), at which
# setting (x_name = x, a positive integer), natsbus's figure (value), the
# baseline's figure in the same run (baseline, baseline_series) and their ratio.
# What the benchmark prints for humans is unchanged; this file is written beside it.

# results_open BENCHMARK: starts (truncates) $results_dir/BENCHMARK.tsv; sets results_file.
results_open() {
  local root_dir build_dir
  root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  build_dir="${BUILD_DIR:-build}"
  case "$build_dir" in /*) ;; *) build_dir="$root_dir/$build_dir" ;; esac
  results_dir="${BENCH_RESULTS_DIR:-$build_dir/bench-results}"
  mkdir -p "$results_dir"
  results_file="$results_dir/$1.tsv"
  {
    printf '# natsbus bench %s: %s, commit %s, %s cores, load %s\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      "$(git -C "$root_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)" \
      "$(cut -d' ' -f1 /proc/loadavg)"
    printf 'measure\tx_name\tx\tseries\tvalue\tbaseline\tbaseline_series\tratio\tunit\n'
  } >"$results_file"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }

# record MEASURE X_NAME X SERIES VALUE BASELINE BASELINE_SERIES UNIT [RATIO]
# appends one point; RATIO defaults to VALUE / BASELINE (2 decimals).
record() {
  [ -n "${results_file:-}" ] || { echo "record: results_open was not called" >&2; return 1; }
  local ratio="${9:-}"
  [ -n "$ratio" ] || ratio=$(ratio "$5" "$6")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$ratio" "$8" >>"$results_file"
}
