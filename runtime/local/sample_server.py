"""A local stand-in for Alpha Vantage's TIME_SERIES_DAILY and SPLITS, serving sample data.

It speaks the protocol of ../shared/docs/alphavantage.md: JSON or CSV, compact (latest 100
bars) or full, the split records the sample market holds (SPLITS, JSON), and every failure
as the API sends it (HTTP 200 with an explanatory body),
plus transport failures. Tests script failures per symbol; a RateLimit and a daily quota
make it throttle like a free key.

    python -m runtime.local.sample_server --port 8765 [--seed N] [--as-of YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import socket
import struct
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from runtime.ingest.bars import Bar
from runtime.ingest.settings import SYMBOL_PATTERN
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from runtime.local.options import OneLineParser, UsageError, parse_date
from runtime.local.sample_market import SAMPLE_LABEL, SampleMarket

HOST = "127.0.0.1"
MAX_PORT = 65535
COMPACT_BARS = 100
DEMO_KEY = "demo"
DAILY = "TIME_SERIES_DAILY"
SPLITS = "SPLITS"
FUNCTIONS = (DAILY, SPLITS)
TRANSPORT_KINDS = ("non_json", "truncated", "server_error", "timeout", "connection_reset")
KINDS = (*FAILURE_BODIES, *TRANSPORT_KINDS)
OK = "ok"

_NON_JSON_PAGE = (
    "<!DOCTYPE html><html><head><title>Alpha Vantage</title></head>"
    "<body><p>We are performing scheduled maintenance. Please try again shortly.</p>"
    "</body></html>"
)
_SERVER_ERROR_PAGE = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    "<center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center>"
    "</body></html>"
)


@dataclass(frozen=True)
class RateLimit:
    """A key's request budget: `calls` per `per_seconds`, enforced as a token bucket.

    The bucket holds at most `calls` tokens and refills continuously at
    calls / per_seconds: a burst of `calls` is allowed, after that calls are spaced.
    A call that finds the bucket empty is answered with the `burst` body and does not
    use up a token.
    """

    calls: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.calls < 1 or not self.per_seconds > 0:
            raise ValueError(
                f"RateLimit needs calls >= 1 and per_seconds > 0, got {self.calls}/"
                f"{self.per_seconds}"
            )


@dataclass(frozen=True)
class ServedRequest:
    """One call as the server saw it, without the apikey.

    outputsize and datatype are as asked, with the API's defaults when absent; kind is
    what was served: "ok" for data, else a failure kind (see KINDS).
    """

    symbol: str | None
    outputsize: str
    datatype: str
    at: datetime
    kind: str
    function: str | None = DAILY


class _TokenBucket:
    def __init__(self, limit: RateLimit) -> None:
        self._capacity = float(limit.calls)
        self._per_second = limit.calls / limit.per_seconds
        self._tokens = self._capacity
        self._updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        elapsed, self._updated = now - self._updated, now
        self._tokens = min(self._capacity, self._tokens + elapsed * self._per_second)
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class SampleServer:
    """TIME_SERIES_DAILY on 127.0.0.1, in a daemon thread, while the context is open.

    Any apikey is accepted except a missing one (`invalid_key`) and `demo` (`demo_key`).
    Failures are scripted per symbol and function (TIME_SERIES_DAILY unless `function`
    says SPLITS): `script(symbol, *kinds)` serves those kinds on the symbol's next calls,
    then data again; `always(symbol, kind)` serves a kind on every call after the script
    runs out. `premium_full` only bites when outputsize=full was
    asked: on a compact call it is used up and data is served. `timeout` holds the call
    for `stall_seconds` (then answers normally if the client is still there);
    `truncated` sends JSON cut in half with a matching Content-Length.

    A call first meets the key checks, then the daily quota, then the rate limit; only
    calls past those count towards the quota and use a token. The quota has no day
    rollover: a server lives for one test or one run.
    """

    def __init__(
        self,
        market: SampleMarket | None = None,
        *,
        rate_limit: RateLimit | None = None,
        daily_quota: int | None = None,
        port: int = 0,
        stall_seconds: float = 30.0,
    ) -> None:
        if daily_quota is not None and daily_quota < 0:
            raise ValueError(f"daily_quota must be 0 or more calls, got {daily_quota}")
        self.market = market if market is not None else SampleMarket()
        self.stall_seconds = stall_seconds
        self._port = port
        self._bucket = _TokenBucket(rate_limit) if rate_limit is not None else None
        self._daily_quota = daily_quota
        self._calls_counted = 0
        self._scripts: dict[tuple[str, str], deque[str]] = defaultdict(deque)
        self._always: dict[tuple[str, str], str] = {}
        self._requests: list[ServedRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint, e.g. http://127.0.0.1:8765/query (use as ALPHAVANTAGE_URL)."""
        if self._httpd is None:
            raise RuntimeError("the sample server is not running: call start() or use `with`")
        return f"http://{HOST}:{self._httpd.server_address[1]}/query"

    @property
    def requests(self) -> list[ServedRequest]:
        """Every call served so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def script(self, symbol: str, *kinds: str, function: str = DAILY) -> None:
        """Serve these kinds, in order, on the symbol's next calls; then data again."""
        for kind in kinds:
            _check_kind(kind)
        with self._lock:
            self._scripts[symbol, function].extend(kinds)

    def always(self, symbol: str, kind: str, function: str = DAILY) -> None:
        """Serve this kind on every call for the symbol once its script is used up."""
        _check_kind(kind)
        with self._lock:
            self._always[symbol, function] = kind

    def start(self) -> SampleServer:
        if self._httpd is not None:
            raise RuntimeError("the sample server is already running")
        self._closing.clear()
        self._httpd = _HTTPServer((HOST, self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long close() may wait for the loop
            name="sample-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is None:
            return
        self._closing.set()  # releases calls stalled by the `timeout` kind
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> SampleServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _decide(self, params: dict[str, str]) -> ServedRequest:
        """Pick what a call gets and record it; the apikey is read here and dropped."""
        symbol = params.get("symbol")
        outputsize = params.get("outputsize", "compact")
        with self._lock:
            kind = self._kind_for(params, symbol, outputsize)
            served = ServedRequest(
                symbol=symbol,
                outputsize=outputsize,
                datatype=params.get("datatype", "json"),
                at=datetime.now(UTC),
                kind=kind,
                function=params.get("function"),
            )
            self._requests.append(served)
        return served

    def _stall(self) -> bool:
        """Hold a `timeout` call; False when the server closes meanwhile."""
        return not self._closing.wait(self.stall_seconds)

    def _kind_for(self, params: dict[str, str], symbol: str | None, outputsize: str) -> str:
        apikey = params.get("apikey")
        if not apikey:
            return "invalid_key"
        if apikey == DEMO_KEY:
            return "demo_key"
        if self._daily_quota is not None and self._calls_counted >= self._daily_quota:
            return "daily_quota"
        if self._bucket is not None and not self._bucket.take():
            return "burst"
        self._calls_counted += 1
        function = params.get("function", "")
        if function not in FUNCTIONS:
            return "invalid_symbol"
        if symbol is not None:
            scripted = self._scripts.get((symbol, function))
            kind = scripted.popleft() if scripted else self._always.get((symbol, function))
            if kind == "premium_full" and outputsize != "full":
                kind = None
            if kind is not None:
                return kind
        if symbol is None or not SYMBOL_PATTERN.match(symbol):
            return "invalid_symbol"
        return OK


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown failure kind {kind!r}; expected one of {', '.join(KINDS)}")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, sample: SampleServer) -> None:
        self.sample = sample
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        if not isinstance(sys.exception(), ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "stockpipe-sample"

    def log_message(self, fmt: str, *args: object) -> None:
        """Silent: the request line holds the caller's apikey."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/query":
            self._send(404, "text/plain; charset=utf-8", b"not found: the API lives at /query\n")
            return
        # Last value wins for repeated parameters; blank values count as absent.
        params = {name: values[-1] for name, values in parse_qs(url.query).items()}
        sample = self.server.sample
        served = sample._decide(params)
        kind = served.kind
        if kind == "timeout":
            if not sample._stall():
                return
            kind = OK
        if kind == OK:
            self._send(200, *_data_body(sample.market, served))
        elif kind in FAILURE_BODIES:
            self._send_json(FAILURE_BODIES[kind])
        elif kind == "non_json":
            self._send(200, "text/html; charset=utf-8", _NON_JSON_PAGE.encode())
        elif kind == "server_error":
            self._send(503, "text/html; charset=utf-8", _SERVER_ERROR_PAGE.encode())
        elif kind == "truncated":
            json_call = replace(served, datatype="json")
            _, body = _data_body(sample.market, json_call)
            self._send(200, "application/json", body[: len(body) // 2])
        elif kind == "connection_reset":
            self._reset_connection()

    def _send_json(self, document: dict) -> None:
        self._send(200, "application/json", json.dumps(document, indent=4).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing left to tell it

    def _reset_connection(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the reader holds a reference that would delay the close
        self.connection.close()
        self.close_connection = True


def _data_body(market: SampleMarket, served: ServedRequest) -> tuple[str, bytes]:
    """Content type and body of a successful call."""
    symbol = served.symbol or ""
    if served.function == SPLITS:
        data = [
            {"effective_date": day.isoformat(), "split_factor": f"{factor:.4f}"}
            for day, factor in market.splits(symbol)
        ]
        return "application/json", json.dumps({"symbol": symbol, "data": data}).encode()
    bars = market.bars(symbol)
    if not bars:
        return "application/json", json.dumps(FAILURE_BODIES["empty"]).encode()
    if served.datatype == "csv":
        return "text/csv; charset=utf-8", _series_csv(bars, served).encode()
    return "application/json", json.dumps(_series_json(bars, served), indent=4).encode()


def _selected(bars: list[Bar], served: ServedRequest) -> list[Bar]:
    return bars if served.outputsize == "full" else bars[:COMPACT_BARS]


def _series_json(bars: list[Bar], served: ServedRequest) -> dict:
    return {
        "Meta Data": {
            "1. Information": f"Daily Prices (open, high, low, close) and Volumes - {SAMPLE_LABEL}",
            "2. Symbol": served.symbol,
            "3. Last Refreshed": bars[0].trade_date.isoformat(),
            "4. Output Size": "Full size" if served.outputsize == "full" else "Compact",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": {
            bar.trade_date.isoformat(): {
                "1. open": str(bar.open),
                "2. high": str(bar.high),
                "3. low": str(bar.low),
                "4. close": str(bar.close),
                "5. volume": str(bar.volume),
            }
            for bar in _selected(bars, served)
        },
    }


def _series_csv(bars: list[Bar], served: ServedRequest) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("timestamp", "open", "high", "low", "close", "volume"))
    for bar in _selected(bars, served):
        writer.writerow(
            (bar.trade_date.isoformat(), bar.open, bar.high, bar.low, bar.close, bar.volume)
        )
    return buffer.getvalue()


def _as_of(text: str) -> date:
    try:
        return parse_date(text, "")
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error).strip()) from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0 to {MAX_PORT}")
    return port


def _rate_limit(text: str) -> RateLimit:
    calls, _, seconds = text.partition("/")
    try:
        return RateLimit(int(calls), float(seconds))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate limit; use CALLS/SECONDS, e.g. 5/60"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m runtime.local.sample_server",
        description=f"Serve TIME_SERIES_DAILY and SPLITS from generated data ({SAMPLE_LABEL}).",
    )
    parser.add_argument("--port", type=_port, default=8765, help="default 8765; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same prices (default 7)")
    parser.add_argument(
        "--as-of", type=_as_of, metavar="YYYY-MM-DD", help="newest bar's date (default: today)"
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="CALLS/SECONDS",
        help="throttle like a key, e.g. 5/60 (token bucket; default: no limit)",
    )
    parser.add_argument(
        "--daily-quota", type=int, metavar="CALLS", help="calls served before the quota body"
    )
    try:
        args = parser.parse_args(argv)
        if args.daily_quota is not None and args.daily_quota < 0:
            parser.error(f"--daily-quota must be 0 or more, got {args.daily_quota}")
    except UsageError as error:
        print(f"stockpipe sample server: {error}", file=sys.stderr)
        return 2
    server = SampleServer(
        SampleMarket(seed=args.seed, end=args.as_of),
        rate_limit=args.rate_limit,
        daily_quota=args.daily_quota,
        port=args.port,
    )
    try:
        server.start()
    except OSError as error:
        print(f"cannot listen on {HOST}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"Serving TIME_SERIES_DAILY and SPLITS at {server.url}", flush=True)
    print(f"{SAMPLE_LABEL}. Any apikey works except 'demo'. Ctrl-C stops.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
