"""Each freshness alarm watches a metric the publish step really emits with the stack's
job arguments, and fires for a stale symbol but not for a fresh one."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from runtime.wap import job
from tests.components.conftest import plain
from tests.contracts.conftest import stack_graph  # noqa: F401 (a fixture)
from tests.contracts.test_alarms_watch_emitted_metrics import emitted_metrics, selector
from tests.contracts.test_job_arguments_are_the_jobs_contract import job_arguments, parsed

AS_OF = date(2024, 6, 10)  # a Monday
NOW = datetime(2024, 6, 10, 22, 30)


def test_each_freshness_alarm_selects_what_publish_emits_and_fires_only_when_stale(
    stack_graph,  # noqa: F811
    capsys,
):
    graph = stack_graph("dev")
    arguments = job_arguments(graph, "publish")
    options = parsed({**arguments, "--metrics": "log"})
    alarms = [
        plain(alarm.inputs)
        for alarm in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if "-wap-freshness-" in alarm.name
    ]
    symbols = arguments["--symbols"].split(",")
    stale = symbols[0]
    # Friday's bars on a Monday are 3 days old: fresh. The stale symbol stopped a week ago.
    latest = {symbol: AS_OF - timedelta(days=3) for symbol in symbols}
    latest[stale] = AS_OF - timedelta(days=7)

    lines = job.emit_freshness(job.argparse.Namespace(**options), latest, AS_OF, NOW, clients=None)
    emitted = emitted_metrics("\n".join(lines))

    assert capsys.readouterr().out.splitlines() == lines  # --metrics log prints them
    assert sorted(alarm["dimensions"]["Symbol"] for alarm in alarms) == sorted(symbols)
    for alarm in alarms:
        assert selector(alarm) in emitted, f"{selector(alarm)} not among {sorted(emitted)}"
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        fires = emitted[selector(alarm)] > alarm["threshold"]
        assert fires == (alarm["dimensions"]["Symbol"] == stale)
        assert alarm["treatMissingData"] == "breaching"
