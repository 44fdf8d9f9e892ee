"""Add up the JUnit XML reports of the test tiers into one closing line.

    python3 .ci/summary.py [--no-skips-in NAME] REPORT.xml...

Prints one line per tier and `total: N passed, N failed, N skipped`; exits 1 when a test failed
or errored, or when a tier named by --no-skips-in skipped a test (its prerequisites should have
been installed) or is missing.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def counts(report: Path) -> dict[str, int]:
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, 0))
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-skips-in", action="append", default=[], metavar="NAME")
    parser.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args()
    ok = True
    passed = failed = skipped = 0
    for report in args.reports:
        if not report.is_file():
            print(f"{report.stem}: no report (the tier did not run)")
            ok = False
            continue
        c = counts(report)
        bad = c["failures"] + c["errors"]
        good = c["tests"] - bad - c["skipped"]
        print(f"{report.stem}: {good} passed, {bad} failed, {c['skipped']} skipped")
        passed, failed, skipped = passed + good, failed + bad, skipped + c["skipped"]
        if bad or (c["skipped"] and report.stem in args.no_skips_in):
            ok = False
    for name in args.no_skips_in:
        if not any(r.stem == name for r in args.reports):
            print(f"{name}: no report (the tier did not run)")
            ok = False
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
