#!/usr/bin/python3
"""Draws the benchmark charts from the benchmarks' result files.

    scripts/bench/plot.py RESULTS_DIR OUT_DIR

RESULTS_DIR holds the <benchmark>.tsv files that scripts/bench/*.sh write
(format: scripts/bench/results_lib.bash). Every file is checked first; a
malformed one stops the run with "<file>:<line>: <what is wrong>" and exit
status 1, before any chart is written. Then OUT_DIR gets:

  publish-ratio.png         publish throughput / the direct cnats publisher,
                            per concurrency (measure "publish")
  delivery-ratio.png        delivery throughput / the direct cnats subscriber,
                            per maxInFlight and batch size (measure "delivery")
  operator-convergence.png  time for the operator to converge N resources,
                            and the same requests from one client (measure "converge")

The interpreter is Debian's /usr/bin/python3, on purpose: matplotlib comes
from the python3-matplotlib package (scripts/deps.sh), which another python3
earlier on PATH (pyenv, a virtualenv) would not see.

A chart whose measure has no records is not drawn (and says so). `make bench`
runs this on docs/bench/results/; `make bench-plots` redraws from there alone.
"""

import math
import os
import re
import sys
from collections import OrderedDict
from pathlib import Path

COLUMNS = ["measure", "x_name", "x", "series", "value", "baseline", "baseline_series", "ratio", "unit"]
HEADER = re.compile(r"^# natsbus bench (?P<bench>[A-Za-z0-9_.-]+): (?P<info>.*)$")

# Every measure a benchmark records (CHARTS below draws three of them); an
# unknown one is a typo in a benchmark script or a hand-edited file.
MEASURES = {"publish", "delivery", "converge", "publish-token", "publish-cluster-vs-single", "http-noop",
            "reconcile-p50", "reconcile-p99"}

NOISE_NOTE = ("Measured on a 2-core machine shared with other builds: absolute numbers are noisy; "
              "each ratio compares natsbus with its baseline in the same run.")


class ResultError(Exception):
    """A malformed result file: the message names the file and the line."""


class Point:
    def __init__(self, bench, line, fields):
        self.bench = bench
        self.line = line
        (self.measure, self.x_name, x, self.series, value, baseline, self.baseline_series, ratio,
         self.unit) = fields
        self.x = int(x)
        self.value = float(value)
        self.baseline = float(baseline)
        self.ratio = float(ratio)


def _positive_number(text):
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def read_results(path):
    """Returns (bench, run info, [Point]) from one result file, or raises ResultError."""
    def fail(line, message):
        raise ResultError(f"{path}:{line}: {message}")

    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultError(f"{path}: cannot read: {error}") from error
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        fail(1, "empty file (expected '# natsbus bench <name>: ...' and the column header)")
    header = HEADER.match(lines[0])
    if not header:
        fail(1, "first line must be '# natsbus bench <name>: <run info>'")
    if header["bench"] != path.stem:
        fail(1, f"names benchmark '{header['bench']}' but the file is {path.name}")
    if len(lines) < 2 or lines[1].split("\t") != COLUMNS:
        fail(2, "second line must be the column header: " + "<tab>".join(COLUMNS))

    points, seen, x_names = [], {}, {}
    for number, text in enumerate(lines[2:], start=3):
        fields = text.split("\t")
        if len(fields) != len(COLUMNS):
            fail(number, f"{len(fields)} tab-separated fields, expected {len(COLUMNS)} ({', '.join(COLUMNS)})")
        row = dict(zip(COLUMNS, fields))
        for name in COLUMNS:
            if not row[name].strip():
                fail(number, f"field '{name}' is empty")
        if row["measure"] not in MEASURES:
            fail(number, f"field 'measure': unknown measure '{row['measure']}' "
                         f"(known: {', '.join(sorted(MEASURES))})")
        if not re.fullmatch(r"[1-9][0-9]*", row["x"]):
            fail(number, f"field 'x': '{row['x']}' is not a positive whole number")
        for name in ("value", "baseline", "ratio"):
            if _positive_number(row[name]) is None:
                fail(number, f"field '{name}': '{row[name]}' is not a positive number")
        known_x_name = x_names.setdefault(row["measure"], (row["x_name"], number))
        if known_x_name[0] != row["x_name"]:
            fail(number, f"field 'x_name': '{row['x_name']}' for measure '{row['measure']}', "
                         f"but line {known_x_name[1]} says '{known_x_name[0]}'")
        key = (row["measure"], row["series"], row["x"])
        if key in seen:
            fail(number, f"the same point as line {seen[key]} "
                         f"(measure '{row['measure']}', series '{row['series']}', x {row['x']})")
        seen[key] = number
        points.append(Point(path.stem, number, fields))
    if not points:
        fail(len(lines), "no records (did the benchmark finish?)")
    return header["bench"], header["info"], points


def read_all(results_dir):
    files = sorted(results_dir.glob("*.tsv"))
    if not files:
        raise ResultError(f"{results_dir}: no result files (*.tsv); run make bench or a scripts/bench/*.sh first")
    runs, points = OrderedDict(), []
    for path in files:
        bench, info, file_points = read_results(path)
        runs[bench] = info
        points.extend(file_points)
    return runs, points


def _caption(figure, runs, benches):
    lines = [NOISE_NOTE] + [f"{bench}.sh: {runs[bench]}" for bench in benches]
    figure.text(0.01, 0.01, "\n".join(lines), fontsize=7, va="bottom", ha="left", wrap=True)
    return len(lines)


def _series(points):
    """Groups points by (bench, series, baseline series), in file order."""
    grouped = OrderedDict()
    for point in points:
        grouped.setdefault((point.bench, point.series, point.baseline_series), []).append(point)
    return grouped


def draw_ratio_chart(plt, points, runs, title, path):
    grouped = _series(points)
    xs = sorted({point.x for point in points})
    # At each x, the bars of the series measured there, side by side around the tick.
    present = {x: [key for key, series_points in grouped.items() if any(p.x == x for p in series_points)]
               for x in xs}
    width = 0.8 / max(len(keys) for keys in present.values())
    benches = list(OrderedDict.fromkeys(point.bench for point in points))
    figure, axes = plt.subplots(figsize=(10, 5.2 + 0.32 * (len(grouped) + len(benches))))
    for key, series_points in grouped.items():
        bench, series, baseline_series = key
        offsets = [xs.index(point.x) + (present[point.x].index(key) - (len(present[point.x]) - 1) / 2) * width
                   for point in series_points]
        unit = series_points[0].unit
        bars = axes.bar(offsets, [point.ratio for point in series_points], width,
                        label=f"{series} [{bench}.sh]\n    vs {baseline_series} ({unit})")
        axes.bar_label(bars, labels=[f"{point.ratio:.2f}×" for point in series_points], fontsize=8)
    axes.axhline(1.0, color="black", linestyle="--", linewidth=1)
    axes.set_xlim(-0.6, len(xs) - 0.4)
    axes.text(-0.55, 1.01, "baseline = 1", va="bottom", ha="left", fontsize=8)
    axes.set_xticks(range(len(xs)), [str(x) for x in xs])
    axes.set_xlabel(points[0].x_name)
    axes.set_ylabel("throughput ratio to the baseline (same run)")
    axes.set_ylim(0, max(1.15, max(point.ratio for point in points) * 1.15))
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=1, frameon=False)
    _finish(plt, figure, runs, benches, len(grouped), path)


def draw_convergence_chart(plt, points, runs, title, path):
    grouped = _series(points)
    benches = list(OrderedDict.fromkeys(point.bench for point in points))
    figure, axes = plt.subplots(figsize=(10, 5.2 + 0.32 * (2 * len(grouped) + len(benches))))
    for (bench, series, baseline_series), series_points in grouped.items():
        series_points = sorted(series_points, key=lambda point: point.x)
        xs = [point.x for point in series_points]
        unit = series_points[0].unit
        axes.plot(xs, [point.value for point in series_points], marker="o",
                  label=f"{series} [{bench}.sh] ({unit})")
        axes.plot(xs, [point.baseline for point in series_points], marker="s", linestyle="--",
                  label=f"baseline: {baseline_series} ({unit})")
        for point in series_points:
            axes.annotate(f"{point.ratio:.2f}×", (point.x, point.value), textcoords="offset points",
                          xytext=(0, 8), ha="center", fontsize=8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    xs = sorted({point.x for point in points})
    axes.set_xticks(xs, [str(x) for x in xs])
    axes.set_xlabel(f"{points[0].x_name} created back to back")
    axes.set_ylabel(f"time to converge ({points[0].unit}, log scale)")
    axes.set_title(title + "\n(labels: natsbus / baseline)")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=1, frameon=False)
    _finish(plt, figure, runs, benches, 2 * len(grouped), path)


def _finish(plt, figure, runs, benches, legend_entries, path):
    caption_lines = _caption(figure, runs, benches)
    height = figure.get_figheight()
    # Leave room under the axes for the legend and the caption.
    bottom = min(0.6, (0.75 + 0.3 * legend_entries + 0.16 * caption_lines) / height)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=bottom)
    temporary = path.with_name(path.name + ".tmp")
    figure.savefig(temporary, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    os.replace(temporary, path)


CHARTS = [
    ("publish-ratio.png", "publish", draw_ratio_chart,
     "Publish throughput through the sidecar / a direct cnats client"),
    ("delivery-ratio.png", "delivery", draw_ratio_chart,
     "Delivery throughput to a local app through the sidecar / a direct cnats subscriber"),
    ("operator-convergence.png", "converge", draw_convergence_chart,
     "Operator: resources created back to back until every one has its status"),
]


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} RESULTS_DIR OUT_DIR", file=sys.stderr)
        return 2
    results_dir, out_dir = Path(argv[1]), Path(argv[2])
    try:
        runs, points = read_all(results_dir)
    except ResultError as error:
        print(f"plot.py: {error}", file=sys.stderr)
        return 1

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, measure, draw, title in CHARTS:
        chart_points = [point for point in points if point.measure == measure]
        if not chart_points:
            print(f"plot.py: no '{measure}' records in {results_dir}: {name} not drawn", file=sys.stderr)
            continue
        draw(plt, chart_points, runs, title, out_dir / name)
        print(f"plot.py: wrote {out_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
