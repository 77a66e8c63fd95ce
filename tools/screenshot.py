"""`make screenshot`: docs/report.png anew, from the demo's report in a real browser.

    python -m tools.screenshot [--out docs/report.png]

Runs the demo (`make demo`: the sample source, full history) into a temporary data
directory, opens its report in headless Chromium (tools/browser.py) and saves the whole
page at the width the documentation shows it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.browser import chromium, missing_chromium

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = PROJECT_ROOT / "docs" / "report.png"
WIDTH = 1200
DEMO = ("run", "--source", "sample", "--outputsize", "full", "--quiet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    problem = missing_chromium()
    if problem:
        print(f"screenshot: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="stockpipe-screenshot-") as data_dir:
        demo = subprocess.run(  # noqa: S603 (our own CLI)
            [sys.executable, "-m", "runtime.local", *DEMO, "--data-dir", data_dir],
            cwd=PROJECT_ROOT,
            check=False,
        )
        if demo.returncode != 0:
            print("screenshot: the demo run failed (above); nothing written", file=sys.stderr)
            return 1
        report = Path(data_dir) / "report.html"
        with chromium() as browser:
            page = browser.new_page(viewport={"width": WIDTH, "height": 800})
            page.goto(report.as_uri())
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
