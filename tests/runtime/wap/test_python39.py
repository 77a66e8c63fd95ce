"""Glue Python shell runs Python 3.9: the write-audit-publish package must too."""

import subprocess
import sys
from pathlib import Path

import runtime.wap

WAP_DIR = Path(runtime.wap.__file__).parent


def test_the_wap_package_needs_nothing_newer_than_python_3_9() -> None:
    # vermin reads the syntax and the standard-library APIs used; ruff's py39 target covers
    # syntax only.
    checked = subprocess.run(  # noqa: S603 (a fixed command on our own package)
        [
            str(Path(sys.executable).with_name("vermin")),
            "--target=3.9-",
            "--violations",
            "--no-tips",
            str(WAP_DIR),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
