"""Run the write-audit-publish job script the way Glue's Python shell does, from its artifact.

tests/components/test_glue_artifact.py starts it in a fresh interpreter:

    python -I -S glue_job_run.py LIBRARY PROVIDED_DIR REPORT_FILE SCRIPT [JOB ARGS...]

-I and -S leave only the standard library on sys.path. LIBRARY (the `--extra-py-files`
zip itself, which Glue puts on sys.path, or the directory it was unpacked into) goes
first, then the stand-in for what Glue provides (boto3 and its dependencies). SCRIPT runs
as `__main__` with the job arguments, as Glue runs the uploaded job.py. Afterwards every
module of the packaged `runtime/wap` is imported and every SQL file it ships is loaded
through `runtime.wap.queries`, the way the steps load them. REPORT_FILE gets the exit
status, the file each imported first-party module came from, the SQL files loaded and
which local-only libraries (duckdb, sqlglot, pyarrow) could be imported.
"""

import importlib
import importlib.util
import json
import pkgutil
import runpy
import sys

library, provided_dir, report_file, script, *job_args = sys.argv[1:]
sys.path[:0] = [library, provided_dir]

sys.argv = [script, *job_args]
try:
    runpy.run_path(script, run_name="__main__")
    status = 0
except SystemExit as exit_:
    status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)

import runtime.wap  # noqa: E402 (from LIBRARY)
from runtime.wap import queries  # noqa: E402

modules = ["runtime.wap"] + [
    info.name for info in pkgutil.walk_packages(runtime.wap.__path__, "runtime.wap.")
]
failed = {}
for name in modules:
    try:
        importlib.import_module(name)
    except ImportError as error:
        failed[name] = f"{type(error).__name__}: {error}"
origins = {
    name: getattr(module, "__file__", None)
    for name, module in sorted(sys.modules.items())
    if name == "runtime" or name.startswith("runtime.")
}
sql_names = sorted(json.loads(sys.stdin.read() or "[]"))
loaded = {name: len(queries.load(name)) for name in sql_names}

with open(report_file, "w", encoding="utf-8") as handle:
    json.dump(
        {
            "status": status,
            "modules": modules,
            "failed_imports": failed,
            "origins": origins,
            "sql_loaded": loaded,
            "importable": {
                name: importlib.util.find_spec(name) is not None
                for name in ("boto3", "duckdb", "sqlglot", "pyarrow")
            },
        },
        handle,
    )
