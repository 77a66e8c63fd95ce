"""The Lambda artifact is what runs: build it, unpack it, run the handler from its files.

What this proves: the zip holds every module the handler imports (it runs from an empty
directory with nothing but the artifact and what Lambda plus the Powertools layer
provide on sys.path), `requests` comes from the artifact, the symbols land in S3
(moto's server) from the sample Alpha Vantage server, and the same inputs give the same
bytes. What it cannot prove here: the host is CPython 3.11 on x86_64 and the artifact is
for 3.12 on arm64. The pure-Python packages and our code run as they would there, but
charset_normalizer's aarch64 extensions (`*.cpython-312-aarch64-linux-gnu.so`) cannot
load on this host: Python skips them for their suffix and imports the package's
pure-Python `md.py`, which the run below asserts. That pip chose the right wheel is
asserted from the zip's contents; that the extension loads is only shown on Lambda.
"""

from __future__ import annotations

import csv
import importlib.machinery
import io
import json
import re
import subprocess
import zipfile
from datetime import date
from pathlib import Path, PurePosixPath

import boto3
import pytest

from components.artifacts import (
    LAMBDA_REQUIREMENTS,
    ArtifactBuildError,
    build_lambda_zip,
    handler_sources,
)
from runtime.local.sample_market import SampleMarket
from runtime.local.sample_server import SampleServer
from tests.components.lambda_sandbox import ISOLATED_PYTHON, provided_dir, unpack
from tools.lock_check import read_lock

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVOKE_SCRIPT = Path(__file__).with_name("lambda_invoke.py")
LAMBDA_EXTENSION_SUFFIX = ".cpython-312-aarch64-linux-gnu.so"
MARKET = SampleMarket(seed=5, end=date(2024, 6, 7), years=1.0)
BUCKET = "stockpipe-artifact-test"
REGION = "us-east-1"
INGEST_DATE = "2024-06-10"
SYMBOLS = ("NVDA", "AMD")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_zip(tmp_path_factory.mktemp("artifact"))


@pytest.fixture(scope="module")
def entries(artifact: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(artifact) as archive:
        return archive.infolist()


@pytest.fixture
def names(entries: list[zipfile.ZipInfo]) -> list[str]:
    return [entry.filename for entry in entries]


@pytest.fixture
def layer_dir(tmp_path: Path) -> Path:
    return provided_dir(tmp_path / "layer")


def run_from_artifact(
    artifact: Path, layer: Path, tmp_path: Path, env: dict[str, str], event: dict
) -> dict:
    unpacked = unpack(artifact, tmp_path / "task")
    result_file = tmp_path / "result.json"
    completed = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [
            *ISOLATED_PYTHON,
            str(INVOKE_SCRIPT),
            str(unpacked),
            str(layer),
            json.dumps(event),
            str(result_file),
        ],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(result_file.read_text(encoding="utf-8"))
    report["unpacked"] = str(unpacked)
    return report


def test_the_handler_runs_from_the_unpacked_artifact_and_lands_the_symbols_in_s3(
    artifact, layer_dir, moto_server, tmp_path
):
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    s3 = boto3.client("s3", endpoint_url=moto_server, **_client_credentials(aws))
    s3.create_bucket(Bucket=BUCKET)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server, **_client_credentials(aws))
    secret_arn = secrets.create_secret(
        Name="stockpipe/alphavantage", SecretString=json.dumps({"api_key": "artifact-key"})
    )["ARN"]

    with SampleServer(MARKET) as api:
        report = run_from_artifact(
            artifact,
            layer_dir,
            tmp_path,
            env={
                **aws,
                "AWS_ENDPOINT_URL": moto_server,
                "SYMBOLS": ",".join(SYMBOLS),
                "ALPHAVANTAGE_SECRET_ARN": secret_arn,
                "ALPHAVANTAGE_URL": api.url,
                "DATA_BUCKET": BUCKET,
                "RAW_PREFIX": "raw/",
                "SINK": "s3",
                "CALLS_PER_MINUTE": "600",
                "MIN_CALL_INTERVAL_SECONDS": "0",
                "POWERTOOLS_SERVICE_NAME": "stockpipe-ingest",
                "POWERTOOLS_METRICS_NAMESPACE": "stockpipe",
            },
            event={"ingest_date": INGEST_DATE},
        )

    assert report["result"]["succeeded"] == list(SYMBOLS)
    # One object per symbol in the day's raw partition; object names are the sink's business.
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"raw/dt={INGEST_DATE}/")["Contents"]
    assert len(listed) == len(SYMBOLS)
    landed: dict[str, list[list[str]]] = {}
    for item in listed:
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode("utf-8")
        for row in list(csv.reader(io.StringIO(body)))[1:]:
            landed.setdefault(row[0], []).append([row[0], row[1], row[5]])
    assert landed == {
        # compact: the latest 100 bars (symbol, trade date, close), straight from the market
        symbol: [
            [symbol, bar.trade_date.isoformat(), str(bar.close)] for bar in MARKET.bars(symbol)
        ][:100]
        for symbol in SYMBOLS
    }

    origins = {name: Path(path) for name, path in report["origins"].items()}
    unpacked = Path(report["unpacked"])
    for name in ("runtime.ingest.handler", "requests", "urllib3", "idna", "certifi"):
        assert origins[name].is_relative_to(unpacked), f"{name} came from {origins[name]}"
    for name in ("boto3", "botocore", "aws_lambda_powertools"):
        assert origins[name].is_relative_to(layer_dir), f"{name} came from {origins[name]}"
    compiled = unpacked / "charset_normalizer" / f"md{LAMBDA_EXTENSION_SUFFIX}"
    if LAMBDA_EXTENSION_SUFFIX in importlib.machinery.EXTENSION_SUFFIXES:
        # A host on Lambda's platform (arm64, CPython 3.12) loads the compiled module.
        assert origins["charset_normalizer.md"] == compiled
    else:
        # Elsewhere Python skips the aarch64 extension and imports the pure-Python module.
        assert compiled.is_file()
        assert origins["charset_normalizer.md"] == unpacked / "charset_normalizer" / "md.py"
    assert report["importable_but_not_on_lambda"] == []


def _client_credentials(aws: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": aws["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"],
        "region_name": aws["AWS_REGION"],
    }


def test_the_same_inputs_build_a_byte_identical_artifact(artifact, tmp_path):
    again = build_lambda_zip(tmp_path)

    assert again != artifact
    assert again.read_bytes() == artifact.read_bytes()


def test_an_unchanged_build_is_reused_not_rewritten(artifact):
    written = artifact.stat().st_mtime_ns

    assert build_lambda_zip(artifact.parent) == artifact
    assert artifact.stat().st_mtime_ns == written


def test_the_artifact_holds_the_handler_and_nothing_that_must_not_ship(names):
    assert "runtime/ingest/handler.py" in names
    assert names == sorted(names)
    paths = [PurePosixPath(name) for name in names]
    assert [p for p in paths if p.suffix in (".pyc", ".pyo") or "__pycache__" in p.parts] == []
    assert [p for p in paths if "tests" in p.parts or p.parts[0] == "bin"] == []
    assert [p for p in paths if p.parts[:2] in (("runtime", "local"), ("runtime", "wap"))] == []
    # Lambda and the layer provide these; a copy in the zip would shadow theirs.
    provided = {"boto3", "botocore", "s3transfer", "aws_lambda_powertools", "jmespath"}
    assert {p.parts[0] for p in paths} & provided == set()


def test_every_entry_has_a_fixed_timestamp_and_mode(entries):
    assert {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert {entry.external_attr >> 16 for entry in entries} == {0o100644}


def test_the_dependencies_are_exactly_the_pinned_wheels_for_arm64_python_3_12(names):
    pins = dict(re.findall(r"^([\w.-]+)==([^\s\\]+)", LAMBDA_REQUIREMENTS.read_text(), re.M))
    assert set(pins) == {"requests", "certifi", "charset-normalizer", "idna", "urllib3"}
    dist_infos = {p.split("/")[0] for p in names if p.split("/")[0].endswith(".dist-info")}
    assert dist_infos == {
        f"{name.replace('-', '_')}-{version}.dist-info" for name, version in pins.items()
    }
    extensions = [name for name in names if name.endswith(".so")]
    assert extensions, "charset_normalizer's compiled extension is missing"
    assert all(
        re.fullmatch(r"charset_normalizer/\w+", name.removesuffix(LAMBDA_EXTENSION_SUFFIX))
        for name in extensions
    ), extensions


def test_the_lambdas_pins_are_requests_and_its_dependencies_as_the_lock_pins_them():
    lock = {pin.name: pin for pin in read_lock(PROJECT_ROOT / "requirements.txt")}
    packaged = {pin.name: pin for pin in read_lock(LAMBDA_REQUIREMENTS)}
    # requests and everything the lock pins because of it, directly or further down
    wanted, frontier = {"requests"}, ["requests"]
    while frontier:
        parent = frontier.pop()
        for pin in lock.values():
            if parent in pin.via and pin.name not in wanted:
                wanted.add(pin.name)
                frontier.append(pin.name)

    assert set(packaged) == wanted
    for name, pin in packaged.items():
        assert pin.version == lock[name].version, name
        # Lambda's wheel is one of the files PyPI has for the version the lock pins
        assert pin.hashes, name
        assert set(pin.hashes) <= set(lock[name].hashes), name


# --- the import graph decides which runtime files ship -------------------------------


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_module_the_handler_imports_is_packaged_and_an_unimported_one_is_not(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "runtime/__init__.py": "",
            "runtime/schema.py": "COLUMNS = ()\n",
            "runtime/calendar/__init__.py": "",
            "runtime/calendar/nyse.py": "from .holidays import HOLIDAYS\n",
            "runtime/calendar/holidays.py": "HOLIDAYS = ()\n",
            "runtime/unused.py": "",
            "runtime/local/__init__.py": "",
            "runtime/ingest/__init__.py": "",
            "runtime/ingest/handler.py": (
                "from typing import TYPE_CHECKING\n"
                "import json\n"
                "from runtime import schema\n"
                "from . import settings\n"
                "if TYPE_CHECKING:\n"
                "    from runtime.local import anything\n"
                "def handler(event, context):\n"
                "    from runtime.calendar.nyse import HOLIDAYS\n"
            ),
            "runtime/ingest/settings.py": "import runtime.schema\n",
        },
    )

    assert handler_sources(root) == [
        "runtime/__init__.py",
        "runtime/calendar/__init__.py",
        "runtime/calendar/holidays.py",
        "runtime/calendar/nyse.py",
        "runtime/ingest/__init__.py",
        "runtime/ingest/handler.py",
        "runtime/ingest/settings.py",
        "runtime/schema.py",
    ]


@pytest.mark.parametrize(
    ("handler_code", "message"),
    [
        # The local pipeline (or the Glue jobs) must never ship in the Lambda.
        ("from runtime.local.cli import main\n", r"handler imports runtime\.local\.cli: "),
        # A typo'd import would only fail at run time, in AWS.
        ("from runtime.ingest.gone import thing\n", r"imports runtime\.ingest\.gone, which has no"),
    ],
)
def test_a_handler_import_the_zip_cannot_serve_fails_the_build(tmp_path, handler_code, message):
    root = write_tree(
        tmp_path,
        {
            "runtime/__init__.py": "",
            "runtime/local/__init__.py": "",
            "runtime/local/cli.py": "",
            "runtime/ingest/__init__.py": "",
            "runtime/ingest/handler.py": handler_code,
        },
    )

    with pytest.raises(ArtifactBuildError, match=message):
        handler_sources(root)
