"""What keeps a local lake from growing with every run: old runs' check results pruned.

`dq_results` and `daily_prices_replaced` gain a `run_id` partition (and a version folder)
per run. The newest KEEP_RUNS runs' partitions stay in full; older ones are dropped from the
catalog in one write, and their folders go once no kept catalog generation points at them.
"""

from __future__ import annotations

from runtime.wap import store
from runtime.wap.config import DQ_TABLE, REPLACED_TABLE, WapConfig
from runtime.wap.engines.base import Engine

#: Runs whose check results and replaced rows a local lake keeps (a quarter of daily runs).
KEEP_RUNS = 90
RUN_TABLES = (DQ_TABLE, REPLACED_TABLE)


def prune_old_runs(engine: Engine, config: WapConfig, keep: int | None = None) -> dict[str, int]:
    """Drop the `run_id` partitions of RUN_TABLES beyond the newest `keep` (default:
    KEEP_RUNS) runs; returns how many each table lost."""
    keep = KEEP_RUNS if keep is None else keep
    dropped = {}
    for table in RUN_TABLES:
        if not engine.table_exists(table):
            continue
        partitions = engine.partitions(table)
        # A partition's version folder starts with its write's UTC time: oldest first.
        oldest_first = sorted(partitions, key=lambda run_id: partitions[run_id])
        old = oldest_first[:-keep]
        if old:
            engine.drop_partitions(table, old)
            store.prune_table(engine, config, table)
        dropped[table] = len(old)
    return dropped
