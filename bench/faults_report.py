"""One command for the reliability figures of docs/reliability.md.

    .venv/bin/python bench/faults_report.py

Runs the broker-cut, SIGKILL and peak-RSS fault tests (real processes on loopback,
~1.5 min) and prints what each measured: items lost, duplicates, recovery time after
the broker returns, peak RSS under a 50 MB body and a gzip bomb. Exit code: pytest's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/faults/test_fault_broker_cut.py",
    "tests/faults/test_fault_crash.py::test_sigkill_mid_stream_loses_nothing",
    "tests/faults/test_fault_hostile_feeds.py::test_peak_rss_under_huge_body_and_gzip_bomb",
]
MARKERS = ("broker cut:", "SIGKILL x", "peak RSS under")


def main() -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *TESTS],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith(MARKERS)]
    print("\n".join(lines) if lines else proc.stdout[-3000:])
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
