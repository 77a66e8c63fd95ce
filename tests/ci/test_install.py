"""`make` installs exactly the lock, and `make test` checks the locks before anything else.

The venv the suite runs in is the one `make` built (CI builds it from a clean clone), so
what is installed here is what a user's first `make test` installs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from tools.lock_check import read_lock

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def make(*args: str) -> subprocess.CompletedProcess:
    # VENV given here: under `make test VENV=...` a sub-make would inherit another one
    return subprocess.run(  # noqa: S603 (make, on our own Makefile)
        ["make", "--no-print-directory", "VENV=.venv", *args],  # noqa: S607
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def make_dry_run(*goals: str) -> list[str]:
    """The commands `make -n` would run (nothing is run), as printed."""
    result = make("-n", *goals)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_venv_holds_exactly_the_locks_pins_for_this_python():
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude", "pip"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    installed = dict(line.split("==", 1) for line in freeze.stdout.splitlines())
    locked = {
        pin.name: pin.version
        for pin in read_lock(PROJECT_ROOT / "requirements.txt")
        if pin.applies()
    }

    assert {canonicalize_name(name): version for name, version in installed.items()} == locked


def test_make_test_checks_the_locks_before_linting_and_testing():
    commands = make_dry_run("-B", "test")

    def first(suffix: str) -> int:
        return next(i for i, command in enumerate(commands) if command.endswith(suffix))

    assert first("-r requirements.txt") < first("/bin/python -m tools.lock_check")
    assert first("/bin/python -m tools.lock_check") < first("/bin/ruff check .")


def test_every_install_requires_hashes_and_wheels():
    installs = [c for c in make_dry_run("-B", ".venv/.installed") if "pip install" in c]

    assert len(installs) == 1
    (command,) = installs
    assert "--require-hashes --only-binary=:all:" in command
    assert "--no-binary" not in command  # nothing is built from source


def test_lock_upgrade_without_a_package_is_refused_before_any_work():
    result = make("-n", "lock-upgrade")

    assert result.returncode != 0
    assert 'usage: make lock-upgrade PACKAGE="name [name ...]"' in result.stderr
    assert result.stdout == ""
