"""Run one ingestion from the shell, configured like the Lambda (environment variables).

    SINK=local LAKE_DIR=.stockpipe/lake ALPHAVANTAGE_API_KEY=... python -m runtime.ingest \\
        [--symbols NVDA,AMD] [--outputsize full] [--ingest-date YYYY-MM-DD]

Prints the run summary as JSON; exits 1 with a one-line message when the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from runtime.ingest.errors import IngestError, IngestionFailed
from runtime.ingest.handler import run_ingestion
from runtime.ingest.settings import Settings

# Outside Lambda nothing stops the run, so the time budget is simply generous.
LOCAL_TIME_BUDGET_MS = 24 * 3600 * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.ingest",
        description="Ingest Alpha Vantage daily bars into the raw zone (settings from env).",
    )
    parser.add_argument("--symbols", help="comma-separated tickers (overrides SYMBOLS)")
    parser.add_argument("--outputsize", choices=("compact", "full"))
    parser.add_argument("--ingest-date", metavar="YYYY-MM-DD")
    args = parser.parse_args(argv)
    event = {
        "symbols": args.symbols,
        "outputsize": args.outputsize,
        "ingest_date": args.ingest_date,
    }
    try:
        settings = Settings.from_env(os.environ)
        result = run_ingestion(settings, event, lambda: LOCAL_TIME_BUDGET_MS)
    except IngestionFailed as error:
        print(json.dumps(error.result, indent=2))
        print(f"error: {error}", file=sys.stderr)
        return 1
    except IngestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
