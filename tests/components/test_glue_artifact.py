"""The Glue job's `--extra-py-files` wheel is what runs: build it, run the job from it alone.

What this proves: the wheel holds every module `runtime/wap/job.py` imports on the Athena
path and every SQL file the steps load; pip installs it into a fresh venv (as Glue's
Python shell installs a `.whl`) and job.py runs from that install, and from the wheel on
sys.path (`--help`, and the drop_staging step against moto's server), in an interpreter
that has only the standard library and boto3; the DuckDB engine, duckdb and sqlglot are
not in it and not needed; the same inputs give the same bytes. No Python 3.9 interpreter
is installable here (the host is CPython 3.11, Glue's Python shell 3.9): that the packaged
code needs nothing newer than 3.9 is checked with vermin below, and the wheel declares
Requires-Python >= 3.9.
"""

from __future__ import annotations

import email.parser
import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path, PurePosixPath

import boto3
import pytest

from components.artifacts import GLUE_WHEEL_NAME, JOB_SCRIPT, build_glue_wheel, job_sources
from tests.components.lambda_sandbox import GLUE_PROVIDED, ISOLATED_PYTHON, provided_dir, unpack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("glue_job_run.py")
REGION = "us-east-1"
STEP_MODULES = {
    "runtime.wap.steps",
    "runtime.wap.checks",
    "runtime.wap.store",
    "runtime.wap.raw_zone",
    "runtime.wap.queries",
    "runtime.wap.metrics",
    "runtime.wap.config",
    "runtime.wap.engines",
    "runtime.wap.engines.base",
    "runtime.wap.engines.athena",
}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_glue_wheel(tmp_path_factory.mktemp("glue"))


@pytest.fixture(scope="module")
def names(artifact: Path) -> list[str]:
    with zipfile.ZipFile(artifact) as archive:
        return archive.namelist()


@pytest.fixture
def glue_provided(tmp_path: Path) -> Path:
    return provided_dir(tmp_path / "glue-python-shell", GLUE_PROVIDED)


def sql_names(names: list[str]) -> list[str]:
    prefix = "runtime/wap/sql/"
    return [n[len(prefix) : -len(".sql")] for n in names if n.startswith(prefix)]


def run_job(library: Path, provided: Path, tmp_path: Path, names, *args, env=None) -> dict:
    """job.py (a copy outside the repository, as Glue downloads it) run on `library`."""
    script_dir = tmp_path / "script"
    script_dir.mkdir(exist_ok=True)
    script = script_dir / "job.py"
    script.write_bytes(JOB_SCRIPT.read_bytes())
    report_file = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    completed = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [*ISOLATED_PYTHON, str(RUNNER), str(library), str(provided), str(report_file),
         str(script), *args],
        input=json.dumps(sql_names(names)), cwd=script_dir, env=env or {},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert report_file.is_file(), completed.stdout + completed.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    report["stdout"], report["stderr"] = completed.stdout, completed.stderr
    return report


def assert_ran_from(report: dict, library: Path) -> None:
    assert report["failed_imports"] == {}
    # Every module the wheel carries imports (the modules listed come from the wheel itself).
    assert set(report["modules"]) >= STEP_MODULES
    assert {name for name, origin in report["origins"].items() if origin is None} == set()
    for name, origin in report["origins"].items():
        assert Path(origin).is_relative_to(library), f"{name} came from {origin}"
    assert report["importable"] == {
        "boto3": True, "duckdb": False, "sqlglot": False, "pyarrow": False,
    }  # fmt: skip


@pytest.fixture(scope="module")
def installed(artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site-packages of a fresh venv (no pip, nothing installed) after pip installed
    the wheel into it, offline and without dependencies."""
    root = tmp_path_factory.mktemp("glue-venv") / "venv"
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    completed = subprocess.run(  # noqa: S603 (our own interpreter, pip and wheel)
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
         "install", "--no-index", "--no-deps", "--no-compile", str(artifact)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (site,) = root.glob("lib/python3*/site-packages")
    return site


def wheel_entries(names: list[str]) -> list[str]:
    """The wheel's files apart from its own metadata."""
    return [name for name in names if ".dist-info/" not in name]


def test_pip_installs_the_wheel_and_the_job_runs_from_the_install(
    installed, names, glue_provided, tmp_path
):
    report = run_job(installed, glue_provided, tmp_path, names, "--help")

    assert report["status"] == 0, report["stderr"]
    assert "--step {drop_staging,create_staging,audit,publish}" in report["stdout"]
    assert_ran_from(report, installed)
    assert set(report["sql_loaded"]) == set(sql_names(names))
    # What pip installed is exactly the job's files plus the wheel's metadata.
    recorded = (installed / "stockpipe_wap_runtime-1.0.dist-info" / "RECORD").read_text()
    assert {line.split(",")[0] for line in recorded.splitlines()} >= set(wheel_entries(names))


def test_the_wheel_is_named_and_described_as_glue_installs_it(artifact, names):
    assert artifact.name == GLUE_WHEEL_NAME == "stockpipe_wap_runtime-1.0-py3-none-any.whl"
    with zipfile.ZipFile(artifact) as archive:
        wheel = email.parser.Parser().parsestr(
            archive.read("stockpipe_wap_runtime-1.0.dist-info/WHEEL").decode()
        )
        metadata = email.parser.Parser().parsestr(
            archive.read("stockpipe_wap_runtime-1.0.dist-info/METADATA").decode()
        )
    assert wheel["Tag"] == "py3-none-any"
    assert wheel["Root-Is-Purelib"] == "true"
    assert metadata["Requires-Python"] == ">=3.9"


def test_job_help_runs_from_the_unpacked_wheel_with_only_the_standard_library_and_boto3(
    artifact, names, glue_provided, tmp_path
):
    unpacked = unpack(artifact, tmp_path / "extra-py-files")

    report = run_job(unpacked, glue_provided, tmp_path, names, "--help")

    assert report["status"] == 0, report["stderr"]
    assert "--step {drop_staging,create_staging,audit,publish}" in report["stdout"]
    assert_ran_from(report, unpacked)
    # Every SQL file the steps load is in the wheel and loads through pkgutil.
    assert set(report["sql_loaded"]) == set(sql_names(names))
    assert all(length > 0 for length in report["sql_loaded"].values())


def test_a_step_runs_on_athena_from_the_wheel_on_sys_path(
    artifact, names, glue_provided, tmp_path, moto_server
):
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_server,
    }
    clients = {
        service: boto3.client(
            service, endpoint_url=moto_server, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        for service in ("s3", "glue", "athena")
    }  # fmt: skip
    clients["s3"].create_bucket(Bucket="stockpipe-glue-test")
    leftover = "staging/daily_prices/run_id=old/year=2024/part-0.parquet"
    clients["s3"].put_object(Bucket="stockpipe-glue-test", Key=leftover, Body=b"PAR1")
    clients["glue"].create_database(DatabaseInput={"Name": "stockpipe_glue_test"})
    clients["athena"].create_work_group(
        Name="etl",
        Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://stockpipe-glue-test/query_results/"},
            "EnforceWorkGroupConfiguration": False,
        },
    )

    report = run_job(
        artifact, glue_provided, tmp_path, names,
        "--step", "drop_staging", "--database", "stockpipe_glue_test", "--workgroup", "etl",
        "--data-bucket", "stockpipe-glue-test", "--run-id", "r1", env=env,
    )  # fmt: skip

    assert report["status"] == 0, report["stdout"] + report["stderr"]
    assert_ran_from(report, artifact)
    # The step did its work: the staging an earlier run left behind is gone.
    listed = clients["s3"].list_objects_v2(Bucket="stockpipe-glue-test", Prefix="staging/")
    assert listed.get("KeyCount") == 0


def test_the_wheel_holds_the_job_graph_and_its_sql_and_nothing_local(names):
    paths = [PurePosixPath(name) for name in wheel_entries(names)]

    assert names == sorted(names)
    assert "runtime/wap/job.py" in names
    assert "runtime/wap/engines/athena.py" in names
    assert "runtime/wap/sql/staging.sql" in names
    assert "runtime/wap/sql/checks/unique_key.sql" in names
    assert "runtime/wap/engines/duckdb_engine.py" not in names
    assert [p for p in paths if p.parts[:2] in (("runtime", "local"), ("runtime", "ingest"))] == []
    assert [p for p in paths if p.suffix not in (".py", ".sql")] == []
    assert {p.parts[0] for p in paths} == {"runtime"}
    assert wheel_entries(names) == job_sources(PROJECT_ROOT)
    assert [n for n in names if ".dist-info/" in n] == [
        f"stockpipe_wap_runtime-1.0.dist-info/{name}" for name in ("METADATA", "RECORD", "WHEEL")
    ]


def test_the_same_inputs_build_a_byte_identical_wheel(artifact, tmp_path):
    again = build_glue_wheel(tmp_path)

    assert again != artifact
    assert again.read_bytes() == artifact.read_bytes()


def test_the_packaged_code_needs_nothing_newer_than_python_3_9(artifact, tmp_path):
    # Glue's Python shell is 3.9; the wheel carries runtime/schema.py besides runtime/wap.
    unpacked = unpack(artifact, tmp_path / "unpacked")
    checked = subprocess.run(  # noqa: S603 (a fixed command on our own files)
        [str(Path(sys.executable).with_name("vermin")), "--target=3.9-", "--violations",
         "--no-tips", str(unpacked / "runtime")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
