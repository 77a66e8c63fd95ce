"""SQL engines the write-audit-publish steps run on, and the factory that picks one.

Engine modules are imported only when asked for, so the Glue (Athena) path never imports
duckdb or sqlglot.
"""

from __future__ import annotations

from typing import Any

from runtime.wap.engines.base import (
    ConcurrentWriteError,
    Engine,
    EngineError,
    QueryResult,
    StoredObject,
)

__all__ = [
    "ENGINE_KINDS",
    "ConcurrentWriteError",
    "Engine",
    "EngineError",
    "QueryResult",
    "StoredObject",
    "create_engine",
]

ENGINE_KINDS = ("athena", "duckdb")


def create_engine(kind: str, **options: Any) -> Engine:
    """Build an engine by kind.

    - `create_engine("athena", database=..., workgroup=..., data_bucket=...)`
    - `create_engine("duckdb", lake_dir=...)`
    """
    if kind == "athena":
        from runtime.wap.engines.athena import AthenaEngine

        return AthenaEngine(**options)
    if kind == "duckdb":
        from runtime.wap.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(**options)
    raise ValueError(f"unknown engine kind {kind!r}; expected one of {', '.join(ENGINE_KINDS)}")
