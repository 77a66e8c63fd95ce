"""Running `python -m components.cost` in-process, on the process's Pulumi mocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.cost.__main__ import main
from components.plan import PROJECT_ROOT, configure


@dataclass
class CostRun:
    status: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cost(pulumi_mocks, capsys) -> Iterator[Callable[..., CostRun]]:
    def run(*argv: str) -> CostRun:
        capsys.readouterr()
        status = main(list(argv), mocks=pulumi_mocks)
        captured = capsys.readouterr()
        return CostRun(status, captured.out, captured.err)

    yield run
    configure("dev", {}, [])


@pytest.fixture
def project(tmp_path: Path) -> Callable[[str, str], Path]:
    """A project directory holding the repository's program and one stack file of the test's."""
    (tmp_path / "__main__.py").symlink_to(PROJECT_ROOT / "__main__.py")

    def write(stack: str, yaml_text: str) -> Path:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml_text, encoding="utf-8")
        return tmp_path

    return write
