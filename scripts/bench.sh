#!/usr/bin/env bash
# `make bench`: runs every benchmark script under scripts/bench/. Each prints its
# figures as ratios against a baseline measured in the same run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shopt -s nullglob
scripts=("$root"/scripts/bench/*.sh)
if [ ${#scripts[@]} -eq 0 ]; then
  echo "make bench: no benchmarks exist yet."
  exit 0
fi
for script in "${scripts[@]}"; do
  echo "=== $(basename "$script")"
  bash "$script"
done
