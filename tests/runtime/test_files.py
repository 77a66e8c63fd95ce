import os
import stat
from pathlib import Path

import pytest

from runtime.files import write_text_atomically


def test_the_new_text_replaces_the_file_with_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "lake" / "raw" / "NVDA.csv"
    write_text_atomically(path, "old\n")

    write_text_atomically(path, "new\n")

    assert path.read_text() == "new\n"
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert [p.name for p in path.parent.iterdir()] == ["NVDA.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_text_atomically(path, "published\n")

    with pytest.raises(TypeError):
        write_text_atomically(path, b"not text")  # type: ignore[arg-type]

    assert path.read_text() == "published\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
