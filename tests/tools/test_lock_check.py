"""The lock check `make test` runs first: an input edited without `make lock` fails it by name.

Each case copies the project's real input and lock, edits one of them the way a person
would, and runs the check's command line on the pair.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import lock_check

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of requirements.in and requirements.txt, free to edit."""
    for name in ("requirements.in", "requirements.txt"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path / "requirements.in", tmp_path / "requirements.txt"


def run_check(*args: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (this interpreter, our module)
        [sys.executable, "-m", "tools.lock_check", *map(str, args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_projects_locks_agree_with_their_inputs():
    result = run_check()

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_package_added_to_the_input_only_fails_and_says_to_relock(pair):
    source, lock = pair
    edit(source, "pytz==2025.2\n", "pytz==2025.2\nrich==14.0.0\n")

    result = run_check(source, lock)

    assert result.returncode == 1
    assert result.stderr == (
        "lock check: requirements.in asks for rich==14.0.0, which requirements.txt does not "
        "pin: run `make lock`\n"
    )


def test_a_version_the_lock_does_not_hold_fails(pair):
    source, lock = pair
    edit(source, "sqlglot==30.30.0", "sqlglot==30.31.0")

    result = run_check(source, lock)

    assert result.returncode == 1
    assert "asks for sqlglot==30.31.0, but requirements.txt pins sqlglot==30.30.0" in (
        result.stderr
    )
    assert "run `make lock`" in result.stderr


def test_a_package_removed_from_the_input_fails_while_the_lock_still_holds_it(pair):
    source, lock = pair
    edit(source, "sqlglot==30.30.0\n", "")

    result = run_check(source, lock)

    assert result.returncode == 1
    assert result.stderr == (
        "lock check: requirements.txt pins sqlglot for requirements.in, which no longer asks "
        "for it: run `make lock`\n"
    )


def test_an_extra_the_lock_was_not_compiled_with_fails(pair):
    source, lock = pair
    edit(source, "moto[s3,", "moto[ec2,s3,")

    result = run_check(source, lock)

    assert result.returncode == 1
    assert "requirements.txt has moto without the extras ec2: run `make lock`" in result.stderr


def test_a_pin_added_to_the_lock_by_hand_without_a_hash_fails(pair):
    source, lock = pair
    edit(
        lock,
        "sqlglot==30.30.0 \\\n",
        "rich==14.0.0\n    # via -r requirements.in\nsqlglot==30.30.0 \\\n",
    )

    result = run_check(source, lock)

    assert result.returncode == 1
    assert "requirements.txt has no hash for rich==14.0.0: run `make lock`" in result.stderr
    assert "requirements.txt pins rich for requirements.in, which no longer asks" in result.stderr


def test_comments_and_a_looser_specifier_the_pin_still_meets_need_no_relock(pair):
    source, lock = pair
    edit(source, "sqlglot==30.30.0", "# reworded comment\nsqlglot>=30,<31")

    assert run_check(source, lock).returncode == 0


def test_an_unreadable_file_is_one_line_naming_it(pair, tmp_path):
    source, _ = pair
    broken = tmp_path / "broken.txt"
    broken.write_text("sqlglot=30.30.0\n", encoding="utf-8")

    missing = run_check(source, tmp_path / "absent.txt")
    garbled = run_check(source, broken)

    assert missing.returncode == garbled.returncode == 2
    assert missing.stderr.startswith(f"lock check: {tmp_path / 'absent.txt'}: cannot read it")
    assert garbled.stderr.startswith(f"lock check: {broken}:1: 'sqlglot=30.30.0' is not a")
    assert "Traceback" not in missing.stderr + garbled.stderr


def test_the_reader_keeps_every_pin_with_its_marker_hashes_and_sources():
    pins = {
        (pin.name, pin.version): pin
        for pin in lock_check.read_lock(PROJECT_ROOT / "requirements.txt")
    }

    moto = pins["moto", "5.2.5"]
    assert moto.requirement.extras == {
        "athena",
        "cloudwatch",
        "firehose",
        "glue",
        "s3",
        "secretsmanager",
        "server",
    }
    assert moto.via == ("-r requirements.in",)
    assert all(digest.startswith("sha256:") for digest in moto.hashes)
    (pywin32,) = [pin for (name, _), pin in pins.items() if name == "pywin32"]
    assert pywin32.applies({"sys_platform": "win32"}) is True
    assert pywin32.applies({"sys_platform": "linux"}) is False
    assert pins["botocore", "1.44.8"].via == (
        "-r requirements.in",
        "aws-xray-sdk",
        "boto3",
        "moto",
        "s3transfer",
    )
