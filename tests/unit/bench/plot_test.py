#!/usr/bin/env python3
"""Unit tests of scripts/bench/plot.py (ctest label unit).

plot.py is run as `make bench` runs it, as an executable (Debian's python3 and
matplotlib), on the small result files in fixtures/results/ (made up, not
measurements), and on broken copies of them.
"""

import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PLOT = ROOT / "scripts" / "bench" / "plot.py"
FIXTURES = HERE / "fixtures" / "results"
CHARTS = {"publish-ratio.png", "delivery-ratio.png", "operator-convergence.png"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_plot(results_dir, out_dir):
    return subprocess.run([str(PLOT), str(results_dir), str(out_dir)], capture_output=True, text=True,
                          timeout=120)


class PlotTest(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="natsbus-plot-test."))
        self.results = self.work / "results"
        shutil.copytree(FIXTURES, self.results)
        self.out = self.work / "out"

    def tearDown(self):
        shutil.rmtree(self.work)

    def assert_valid_png(self, path):
        data = path.read_bytes()
        self.assertGreater(len(data), len(PNG_SIGNATURE) + 25, path)
        self.assertEqual(data[:8], PNG_SIGNATURE, f"{path} does not start with the PNG signature")
        # The first chunk is IHDR: length 13, then width and height (big-endian).
        length, kind, width, height = struct.unpack(">I4sII", data[8:24])
        self.assertEqual((length, kind), (13, b"IHDR"), path)
        self.assertGreater(width, 100, path)
        self.assertGreater(height, 100, path)

    def test_fixture_results_give_the_three_charts_as_pngs(self):
        done = run_plot(self.results, self.out)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual({path.name for path in self.out.iterdir()}, CHARTS)
        for name in sorted(CHARTS):
            self.assert_valid_png(self.out / name)
            self.assertIn(f"wrote {self.out / name}", done.stdout)

    def test_a_chart_without_records_is_not_drawn_and_says_so(self):
        (self.results / "operator_reconcile.tsv").unlink()
        done = run_plot(self.results, self.out)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual({path.name for path in self.out.iterdir()}, CHARTS - {"operator-convergence.png"})
        self.assertIn("no 'converge' records", done.stderr)

    def break_line(self, file_name, line_number, replacement):
        path = self.results / file_name
        lines = path.read_text().split("\n")
        lines[line_number - 1] = replacement
        path.write_text("\n".join(lines))
        return path

    def assert_refused(self, path, line, *phrases):
        done = run_plot(self.results, self.out)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn(f"{path}:{line}:", done.stderr)
        for phrase in phrases:
            self.assertIn(phrase, done.stderr)
        self.assertFalse(self.out.exists() and any(self.out.iterdir()), "a chart was written from bad input")

    def test_refuses_a_record_with_a_missing_field(self):
        path = self.break_line("sidecar_delivery.tsv", 4,
                               "delivery\tmaxInFlight\t64\tsidecar -> app, per message\t40000\t160000\t0.25\tmsgs/s")
        self.assert_refused(path, 4, "8 tab-separated fields, expected 9")

    def test_refuses_a_value_that_is_not_a_number(self):
        path = self.break_line("sidecar_publish.tsv", 5,
                               "publish\tconcurrency\t32\tsidecar POST /v1/publish\tn/a\t70000\t"
                               "direct cnats async publish\t0.57\treq/s")
        self.assert_refused(path, 5, "field 'value'", "'n/a' is not a positive number")

    def test_refuses_a_zero_baseline_and_a_bad_x(self):
        path = self.break_line("sidecar_batch.tsv", 3,
                               "delivery\tmaxInFlight\t500\tsidecar -> app, batch.maxMessages 100\t100000\t0\t"
                               "direct cnats manual-ack subscriber\t0.77\tmsgs/s")
        self.assert_refused(path, 3, "field 'baseline'")
        path = self.break_line("sidecar_batch.tsv", 3,
                               "delivery\tmaxInFlight\t1.5\tsidecar -> app, batch.maxMessages 100\t100000\t130000\t"
                               "direct cnats manual-ack subscriber\t0.77\tmsgs/s")
        self.assert_refused(path, 3, "field 'x'", "not a positive whole number")

    def test_refuses_an_unknown_measure(self):
        path = self.break_line("operator_reconcile.tsv", 4,
                               "convergence\tresources\t10\tnatsbus-operator, last status written\t0.090\t0.120\t"
                               "one HTTP client issuing the same requests sequentially\t0.75\ts")
        self.assert_refused(path, 4, "unknown measure 'convergence'")

    def test_refuses_the_same_point_twice(self):
        path = self.results / "sidecar_delivery.tsv"
        lines = path.read_text().rstrip("\n").split("\n")
        path.write_text("\n".join(lines + [lines[3]]) + "\n")
        self.assert_refused(path, len(lines) + 1, "the same point as line 4")

    def test_refuses_a_file_without_its_header(self):
        path = self.break_line("cluster_publish.tsv", 1, "measure\tx_name")
        self.assert_refused(path, 1, "# natsbus bench <name>")
        path = self.break_line("cluster_publish.tsv", 1, "# natsbus bench sidecar_publish: copied")
        self.assert_refused(path, 1, "names benchmark 'sidecar_publish' but the file is cluster_publish.tsv")
        path = self.break_line("cluster_publish.tsv", 1, "# natsbus bench cluster_publish: ok")
        path = self.break_line("cluster_publish.tsv", 2, "measure\tx\tseries")
        self.assert_refused(path, 2, "column header")

    def test_refuses_a_file_without_records(self):
        path = self.results / "sidecar_publish.tsv"
        path.write_text("\n".join(path.read_text().split("\n")[:2]) + "\n")
        self.assert_refused(path, 2, "no records")

    def test_refuses_an_empty_results_directory(self):
        empty = self.work / "empty"
        empty.mkdir()
        done = run_plot(empty, self.out)
        self.assertEqual(done.returncode, 1)
        self.assertIn(f"{empty}: no result files", done.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + ["-v"])
