"""What the local CLI prints while it works: a line per symbol, each step's timing."""

from __future__ import annotations

import os
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
        #: (step, seconds) of every step that finished, in order.
        self.timings: list[tuple[str, float]] = []
        self.out_closed = False

    def progress(self, line: str) -> None:
        if not self.quiet:
            self._print(line)

    def summary(self, line: str) -> None:
        self._print(line)

    def _print(self, line: str) -> None:
        """A reader that went away (`run | head -1`) ends the output, not the work: the run
        goes on and its exit status stays what it would have been."""
        if self.out_closed:
            return
        try:
            print(line, file=self.out, flush=True)
        except BrokenPipeError:
            self.out_closed = True
            if self.out is sys.stdout:
                # Python flushes stdout again at exit and would complain about the pipe.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)

    def error(self, message: str) -> None:
        """One line, whatever the message: engines' errors can span lines and carry colours."""
        line = " ".join(_ANSI_ESCAPE.sub("", message).split())
        print(f"stockpipe: {line}", file=self.err, flush=True)

    @contextmanager
    def step(self, name: str, detail: str = "") -> Iterator[None]:
        label = f"{name} {detail}" if detail else name
        self.progress(f"{label} ...")
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.timings.append((name, seconds))
        self.progress(f"{label} done in {seconds:.2f} s")

    def timing_summary(self, total: float) -> None:
        """Every step's time on one line, printed even with --quiet: where a run spends it."""
        steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.timings)
        self.summary(f"times: {steps}; total {total:.2f} s")
