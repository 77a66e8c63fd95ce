"""Does each lock still hold what its input asks for? Run by `make test` before anything else.

A lock (`requirements.txt`, `policy/requirements.txt`) is compiled by `make lock` from its
input (`requirements.in`, `policy/requirements.in`). An input edited without relocking
installs the old lock silently, so this compares the two and names every disagreement:

- a requirement of the input that the lock does not pin, or pins at a version (or with
  extras) the input no longer allows;
- a pin the lock holds for the input (`# via -r <input>`) that the input no longer names;
- a pin without `==` or without a hash, which `pip install --require-hashes` would refuse.

A comment or a looser specifier that the pinned version still satisfies needs no relock.

    python -m tools.lock_check                  # the project's locks
    python -m tools.lock_check INPUT LOCK       # one pair
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_LOCKS = (
    (PROJECT_ROOT / "requirements.in", PROJECT_ROOT / "requirements.txt"),
    (PROJECT_ROOT / "policy" / "requirements.in", PROJECT_ROOT / "policy" / "requirements.txt"),
)
RELOCK = "run `make lock`"


class LockFileError(ValueError):
    """A requirements file cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Pin:
    """One entry of a lock: `name[extras]==version ; marker`, its hashes and `# via` sources."""

    name: str
    requirement: Requirement
    hashes: tuple[str, ...]
    via: tuple[str, ...]

    @property
    def version(self) -> str | None:
        specs = list(self.requirement.specifier)
        if len(specs) == 1 and specs[0].operator == "==":
            return specs[0].version
        return None

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        """Whether pip installs this pin in `environment` (this interpreter by default)."""
        marker = self.requirement.marker
        return marker is None or marker.evaluate(environment)


def read_lock(path: Path) -> list[Pin]:
    """The pins of a lock written by `uv pip compile --generate-hashes` (or pip-compile)."""
    pins: list[Pin] = []
    for line_no, entry, comments in _entries(path):
        parts = entry.split(" --hash=")
        requirement = _requirement(path, line_no, parts[0])
        pins.append(
            Pin(
                name=canonicalize_name(requirement.name),
                requirement=requirement,
                hashes=tuple(part.strip() for part in parts[1:]),
                via=_via(comments),
            )
        )
    return pins


def read_input(path: Path) -> list[Requirement]:
    """The requirements an input file names (comments and blank lines skipped)."""
    return [_requirement(path, line_no, entry) for line_no, entry, _ in _entries(path)]


def check(input_path: Path, lock_path: Path) -> list[str]:
    """Every way `lock_path` disagrees with `input_path`, one message each; empty if none."""
    wanted = read_input(input_path)
    pins = read_lock(lock_path)
    lock, source = _shown(lock_path), _shown(input_path)
    problems = []
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
        if pin.version is None:
            problems.append(f"{lock} does not pin {pin.requirement} to one version with ==")
        if not pin.hashes:
            problems.append(f"{lock} has no hash for {pin.requirement}")

    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name not in by_name:
            problems.append(f"{source} asks for {requirement}, which {lock} does not pin")
            continue
        for pin in by_name[name]:
            if pin.version is not None and not requirement.specifier.contains(
                pin.version, prereleases=True
            ):
                problems.append(
                    f"{source} asks for {requirement}, but {lock} pins {name}=={pin.version}"
                )
            missing = requirement.extras - pin.requirement.extras
            if missing:
                problems.append(
                    f"{source} asks for {requirement}, but {lock} has {name} without the "
                    f"extras {', '.join(sorted(missing))}"
                )

    named = {canonicalize_name(requirement.name) for requirement in wanted}
    for pin in pins:
        from_input = any(origin.startswith("-r ") for origin in pin.via)
        if from_input and pin.name not in named:
            problems.append(f"{lock} pins {pin.name} for {source}, which no longer asks for it")
    return [f"{problem}: {RELOCK}" for problem in problems]


def _shown(path: Path) -> str:
    """A project file by its path in the project (policy/requirements.in), any other by name."""
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return path.name


def _entries(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line number, requirement with its hashes, comments after it) for each entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LockFileError(f"{path}: cannot read it ({exc.strerror})") from exc
    entries: list[tuple[int, str, list[str]]] = []
    pending, start = "", 0  # a requirement whose line ends in a backslash goes on
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not pending and stripped.startswith("#"):
            if entries:  # uv writes `# via` after the entry it annotates
                entries[-1][2].append(stripped)
            continue
        pending, start = (f"{pending} {stripped}", start) if pending else (stripped, line_no)
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
        elif pending:
            entries.append((start, pending, []))
            pending = ""
    if pending:
        entries.append((start, pending, []))
    return entries


def _requirement(path: Path, line_no: int, text: str) -> Requirement:
    if text.startswith("-"):
        raise LockFileError(f"{path}:{line_no}: options such as {text.split()[0]} are not used")
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise LockFileError(f"{path}:{line_no}: {text!r} is not a requirement ({exc})") from exc


def _via(comments: list[str]) -> tuple[str, ...]:
    """The sources of a pin from uv's annotation: `# via X` or `# via` then `#   X` lines."""
    sources = []
    in_via = False
    for comment in comments:
        body = comment.lstrip("#").strip()
        if body == "via":
            in_via = True
        elif body.startswith("via "):
            sources.append(body.removeprefix("via ").strip())
            in_via = False
        elif in_via and body:
            sources.append(body)
    return tuple(sources)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("pair", nargs="*", metavar="INPUT LOCK", help="an input and its lock")
    args = parser.parse_args(argv)
    if len(args.pair) not in (0, 2):
        parser.error("give an input and its lock, or nothing for the project's locks")
    pairs = [tuple(map(Path, args.pair))] if args.pair else PROJECT_LOCKS
    try:
        problems = [problem for pair in pairs for problem in check(*pair)]
    except LockFileError as exc:
        print(f"lock check: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"lock check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
