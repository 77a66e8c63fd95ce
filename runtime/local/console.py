"""What the local CLI prints while it works: a line per symbol, each step's timing."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class Console:
    """Progress on stdout (silenced by --quiet); errors always on stderr."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def progress(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.out, flush=True)

    def summary(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def error(self, message: str) -> None:
        """One line, whatever the message: engines' errors can span lines and carry colours."""
        line = " ".join(_ANSI_ESCAPE.sub("", message).split())
        print(f"stockpipe: {line}", file=self.err, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.progress(f"{name} ...")
        started = time.perf_counter()
        yield
        self.progress(f"{name} done in {time.perf_counter() - started:.2f} s")
