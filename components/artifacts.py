"""The deployment packages built from `runtime/`: the ingestion Lambda's zip and the Glue
write-audit-publish job's `--extra-py-files` wheel, both deterministic.

The zip holds the `runtime` modules the handler `runtime.ingest.handler.handler` imports
(found by walking its import graph, so a new module is packaged as soon as the handler
path imports it) plus `requests` and its dependencies installed for Lambda's
arm64 / CPython 3.12 from the pins in `lambda_requirements.txt`. boto3 and Powertools
are not packaged: the Lambda runtime and AWS's Powertools layer provide them.

Pulumi hashes the archive's contents, so the same inputs must give the same bytes or
every `pulumi up` would redeploy the function: entries are sorted, timestamps and
permissions fixed, and nothing host-specific (`.pyc`, pip's install records) is kept.
A build is reused while its inputs (the packaged sources, the pins, this module) are
unchanged. Wheels are downloaded once into `build/wheels/` (the Makefile's install step
does it; a build with an empty cache does it itself) and installed from there offline.

The Glue job's library is a pure-Python wheel (Glue's Python shell 3.9 installs `.whl`
files given in `--extra-py-files`; `.egg` is refused and a zip is not documented:
https://docs.aws.amazon.com/glue/latest/dg/add-job-python.html). It holds the `runtime`
modules `runtime/wap/job.py` imports on its production (Athena) path, by the same import
graph, plus every `runtime/wap/sql/**/*.sql` file the steps load with pkgutil, and the
`.dist-info` a wheel needs (METADATA, WHEEL, RECORD). No dependency is packaged: Glue's
Python shell provides boto3. The DuckDB engine is the one module the job imports only for
`--engine duckdb`; it (and duckdb, sqlglot) stays out, so the wheel cannot run the local
engine and does not need to.

    python -m components.artifacts [--wheels-only | --glue]
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import pulumi

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"
DEFAULT_OUT_DIR = BUILD_DIR / "lambda"
WHEEL_CACHE = BUILD_DIR / "wheels"
LAMBDA_REQUIREMENTS = Path(__file__).with_name("lambda_requirements.txt")

HANDLER_MODULE = "runtime.ingest.handler"
# Code that must never reach the Lambda: the local pipeline and the Glue jobs.
EXCLUDED_PACKAGES = ("runtime.local", "runtime.wap")

JOB_MODULE = "runtime.wap.job"
JOB_SCRIPT = PROJECT_ROOT / "runtime" / "wap" / "job.py"
GLUE_OUT_DIR = BUILD_DIR / "glue"
# The wheel's name is its metadata (pip refuses a file whose name is not a wheel's); the
# version stays fixed, the content changes with the sources.
GLUE_DISTRIBUTION = "stockpipe_wap_runtime"
GLUE_DISTRIBUTION_VERSION = "1.0"
GLUE_WHEEL_NAME = f"{GLUE_DISTRIBUTION}-{GLUE_DISTRIBUTION_VERSION}-py3-none-any.whl"
GLUE_PYTHON = "3.9"
# Code that must never reach the Glue job: the local pipeline and the Lambda.
JOB_EXCLUDED_PACKAGES = ("runtime.local", "runtime.ingest")
# Imported by the job only for `--engine duckdb` (inside create_engine): not followed, so
# the production wheel carries neither it nor its duckdb and sqlglot imports.
JOB_LOCAL_ONLY_MODULES = ("runtime.wap.engines.duckdb_engine",)
JOB_DATA_GLOB = "runtime/wap/sql/**/*.sql"
# Lambda's runtime: Python 3.12 on Graviton (arm64).
PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)
# Written by pip at install time, not part of the distributions: dropping them keeps the
# bytes independent of the pip version that built the zip.
PIP_INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
FILE_MODE = 0o644
ZIP_PREFIX = "ingest-lambda-"


class ArtifactBuildError(RuntimeError):
    """The Lambda package cannot be built; the message says why and what to do."""


def build_lambda_zip(out_dir: Path | None = None) -> Path:
    """Build (or reuse, when its inputs are unchanged) the Lambda zip and return its path.

    The default `out_dir` is `build/lambda/` in the project root (git-ignored).
    """
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT_DIR
    sources = handler_sources(PROJECT_ROOT)
    requirements = LAMBDA_REQUIREMENTS.read_bytes()
    target = out_dir / f"{ZIP_PREFIX}{_input_digest(sources, requirements)[:16]}.zip"
    if target.is_file():
        return target

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lambda-deps-") as deps_dir:
        deps = Path(deps_dir)
        _install_dependencies(deps)
        entries = {rel: (PROJECT_ROOT / rel).read_bytes() for rel in sources}
        for rel, path in _dependency_files(deps).items():
            if rel in entries:
                raise ArtifactBuildError(f"{rel} is both a runtime module and a dependency file")
            entries[rel] = path.read_bytes()
        _write_zip(entries, target)
    # Older builds in this directory are stale: their inputs changed.
    for old in out_dir.glob(f"{ZIP_PREFIX}*.zip"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def lambda_archive() -> pulumi.FileArchive:
    """The Lambda's code as a Pulumi archive (the zip from `build_lambda_zip`)."""
    return pulumi.FileArchive(str(build_lambda_zip()))


def glue_job_script() -> pulumi.FileAsset:
    """The Glue job's script, uploaded as it is (the same file the wheel carries)."""
    return pulumi.FileAsset(str(JOB_SCRIPT))


def glue_job_library() -> pulumi.FileAsset:
    """The Glue job's `--extra-py-files` wheel as a Pulumi asset (from `build_glue_wheel`)."""
    return pulumi.FileAsset(str(build_glue_wheel()))


def build_glue_wheel(out_dir: Path | None = None) -> Path:
    """Build (or reuse) the Glue job's wheel and return its path.

    The default `out_dir` is `build/glue/` in the project root (git-ignored); each build
    goes into a directory named by its inputs' digest, under the wheel's own file name.
    """
    out_dir = Path(out_dir) if out_dir is not None else GLUE_OUT_DIR
    sources = job_sources(PROJECT_ROOT)
    digest = _input_digest(sources, b"glue")[:16]
    target = out_dir / digest / GLUE_WHEEL_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    entries = {rel: (PROJECT_ROOT / rel).read_bytes() for rel in sources}
    _write_zip({**entries, **_wheel_metadata(entries)}, target)
    for old in out_dir.glob(f"*/{GLUE_WHEEL_NAME}"):
        if old != target:
            old.unlink(missing_ok=True)
            old.parent.rmdir()
    return target


def _wheel_metadata(entries: dict[str, bytes]) -> dict[str, bytes]:
    """The `.dist-info` files of a pure-Python wheel holding `entries`
    (https://packaging.python.org/en/latest/specifications/binary-distribution-format/)."""
    info = f"{GLUE_DISTRIBUTION}-{GLUE_DISTRIBUTION_VERSION}.dist-info"
    metadata = {
        f"{info}/METADATA": (
            "Metadata-Version: 2.1\n"
            f"Name: {GLUE_DISTRIBUTION}\n"
            f"Version: {GLUE_DISTRIBUTION_VERSION}\n"
            "Summary: stockpipe write-audit-publish job library (Glue Python shell)\n"
            f"Requires-Python: >={GLUE_PYTHON}\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\n"
            b"Generator: stockpipe components.artifacts\n"
            b"Root-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    lines = []
    for name, content in sorted({**entries, **metadata}.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        lines.append(f"{name},sha256={digest.decode()},{len(content)}")
    lines.append(f"{info}/RECORD,,")
    return {**metadata, f"{info}/RECORD": ("\n".join(lines) + "\n").encode()}


def job_sources(source_root: Path) -> list[str]:
    """The files of the Glue job's wheel: the job's import graph plus the SQL it loads."""
    modules = handler_sources(
        source_root,
        JOB_MODULE,
        excluded=JOB_EXCLUDED_PACKAGES,
        not_followed=JOB_LOCAL_ONLY_MODULES,
    )
    data = sorted(
        path.relative_to(source_root).as_posix() for path in source_root.glob(JOB_DATA_GLOB)
    )
    if not data:
        raise ArtifactBuildError(f"no SQL files match {JOB_DATA_GLOB} under {source_root}")
    return sorted(modules + data)


def handler_sources(
    source_root: Path,
    entry_module: str = HANDLER_MODULE,
    *,
    excluded: tuple[str, ...] = EXCLUDED_PACKAGES,
    not_followed: tuple[str, ...] = (),
) -> list[str]:
    """The files (relative POSIX paths) of every first-party module the entry module imports.

    Follows absolute and relative imports within the entry's top-level package,
    transitively, including each module's parent packages; imports under
    `if TYPE_CHECKING:` are not followed (they never run), nor are the `not_followed`
    modules (imported only off the packaged path). Raises ArtifactBuildError when an
    import names no file, or reaches an `excluded` package.
    """
    top = entry_module.split(".")[0]
    files: dict[str, Path] = {}
    imported_by: dict[str, str] = {}
    pending = [entry_module]
    while pending:
        module = pending.pop()
        if module in files or module in not_followed:
            continue
        path = _module_file(source_root, module)
        if path is None:
            importer = imported_by.get(module, "the build")
            raise ArtifactBuildError(f"{importer} imports {module}, which has no file")
        if any(module == p or module.startswith(f"{p}.") for p in excluded):
            raise ArtifactBuildError(
                f"{imported_by.get(module, entry_module)} imports {module}: "
                f"{', '.join(excluded)} must stay out of the {_artifact_of(entry_module)}"
            )
        files[module] = path
        parts = module.split(".")
        found = [".".join(parts[:i]) for i in range(1, len(parts))]
        found += _first_party_imports(source_root, path, module, top)
        for name in found:
            imported_by.setdefault(name, module)
            pending.append(name)
    return sorted(path.relative_to(source_root).as_posix() for path in files.values())


def _artifact_of(entry_module: str) -> str:
    return "Glue job" if entry_module == JOB_MODULE else "Lambda"


def download_wheels(cache: Path = WHEEL_CACHE) -> Path:
    """Download the pinned wheels for Lambda's platform into `cache`, once per pin set."""
    stamp = cache / f".complete-{_requirements_digest()[:16]}"
    if stamp.is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    _pip(
        "download",
        "--dest",
        str(cache),
        *PLATFORM_ARGS,
        "-r",
        str(LAMBDA_REQUIREMENTS),
        what="download the Lambda's pinned wheels from PyPI (is it reachable?)",
    )
    stamp.touch()
    return cache


def _first_party_imports(source_root: Path, path: Path, module: str, top: str) -> list[str]:
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_bytes(), filename=str(path))
    names: list[str] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.split(".")[0] == top]
        elif isinstance(node, ast.ImportFrom):
            base = _import_base(module, is_package, node)
            if base.split(".")[0] != top:
                continue
            names.append(base)
            # `from runtime.ingest import settings` imports a submodule, not a name.
            names += [
                f"{base}.{alias.name}"
                for alias in node.names
                if _module_file(source_root, f"{base}.{alias.name}") is not None
            ]
    return names


def _runtime_nodes(tree: ast.AST):
    """Every node except those only under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _module_file(source_root: Path, module: str) -> Path | None:
    base = source_root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _requirements_digest() -> str:
    return hashlib.sha256(
        LAMBDA_REQUIREMENTS.read_bytes() + "\0".join(PLATFORM_ARGS).encode()
    ).hexdigest()


def _input_digest(sources: list[str], requirements: bytes) -> str:
    # This module (layout, filters) and the zlib that compresses are inputs too.
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(f"\0zlib {zlib.ZLIB_RUNTIME_VERSION}\0".encode())
    digest.update("\0".join(PLATFORM_ARGS).encode() + b"\0" + requirements)
    for rel in sources:
        content = (PROJECT_ROOT / rel).read_bytes()
        digest.update(f"\0{rel}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


def _install_dependencies(target: Path) -> None:
    cache = download_wheels()
    _pip(
        # --isolated: no pip configuration or PIP_* variable can add an index or a
        # constraint; the pinned wheels in the cache are the only source.
        "--isolated",
        "install",
        "--no-index",
        "--find-links",
        str(cache),
        "--no-compile",
        "--target",
        str(target),
        *PLATFORM_ARGS,
        "-r",
        str(LAMBDA_REQUIREMENTS),
        what=f"install the Lambda's pinned wheels from {cache} (delete it to download again)",
    )


def _pip(*args: str, what: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise ArtifactBuildError(f"could not {what}: " + " | ".join(detail))


def _dependency_files(site: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in site.rglob("*"):
        rel = path.relative_to(site)
        if not path.is_file() or _excluded(rel):
            continue
        files[rel.as_posix()] = path
    return files


def _excluded(rel: Path) -> bool:
    parts = rel.parts
    return (
        parts[0] == "bin"  # console scripts, for a shell Lambda has no use for
        or "__pycache__" in parts
        or "tests" in parts
        or rel.suffix in (".pyc", ".pyo")
        or (parts[0].endswith(".dist-info") and rel.name in PIP_INSTALL_RECORDS)
    )


def _write_zip(entries: dict[str, bytes], target: Path) -> None:
    handle, temporary = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w") as archive:
            for arcname in sorted(entries):
                info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
                info.create_system = 3  # Unix, so the mode below is honoured
                info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entries[arcname], compresslevel=9)
        os.chmod(temporary, 0o644)  # mkstemp creates it owner-only
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.artifacts",
        description="Build the ingestion Lambda's zip (or the Glue job's wheel).",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--wheels-only",
        action="store_true",
        help="only download the pinned wheels into build/wheels (the install step's job)",
    )
    what.add_argument("--glue", action="store_true", help="build the Glue job's wheel instead")
    args = parser.parse_args(argv)
    try:
        if args.wheels_only:
            print(download_wheels())
        else:
            print(build_glue_wheel() if args.glue else build_lambda_zip())
    except ArtifactBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
