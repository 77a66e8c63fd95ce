"""The stock dashboard as Grafana JSON, generated from the panel definitions in runtime/panels.

Infrastructure reads `runtime/panels/panels.toml` and its SQL files by path (it never
imports runtime code), so the dashboard shows exactly the panels and SQL the local report
renders and the tests run on DuckDB. The JSON is built with Grafana's own SDK
(`grafana-foundation-sdk`), so it follows Grafana's dashboard schema.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import athena, common, dashboard, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models.athena import FormatOptions

PANELS_DIR = Path(__file__).resolve().parent.parent / "runtime" / "panels"
PANELS_TOML = PANELS_DIR / "panels.toml"
ATHENA_PLUGIN = "grafana-athena-datasource"
# Dashboard defaults the issue fixed: six months, all symbols.
DEFAULT_TIME_FROM = "now-6M"
# Athena reuses a query's results for this long (engine v3): a dashboard reloaded within
# the hour costs nothing; new data lands once a day.
RESULT_REUSE_MINUTES = 60
GRID_WIDTH = 24
CHART_HEIGHT = 9
TABLE_HEIGHT = 10
# "__default": the data source's own region, catalog and database.
USE_DATA_SOURCE = "__default"


class PanelFileError(ValueError):
    """panels.toml or a panel's SQL file cannot be read into a dashboard."""


@dataclass(frozen=True)
class PanelSpec:
    """One panel of panels.toml with its SQL text (the fields the dashboard uses)."""

    id: str
    title: str
    description: str
    unit: str
    visualisation: str
    format: int
    sql: str
    scale: str = "linear"


@dataclass(frozen=True)
class VariableSpec:
    name: str
    label: str
    sql: str
    multi: bool
    include_all: bool


def read_panel_files(path: Path = PANELS_TOML) -> tuple[list[PanelSpec], list[VariableSpec]]:
    """The panels and dashboard variables of `path`, SQL read from the files they name."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PanelFileError(f"{path}: {error}") from error
    panels = [
        PanelSpec(
            id=entry["id"], title=entry["title"], description=entry["description"],
            unit=entry["unit"], visualisation=entry["visualisation"], format=entry["format"],
            sql=_sql(path, entry["sql"]), scale=entry.get("scale", "linear"),
        )
        for entry in document.get("panels", [])
    ]  # fmt: skip
    variables = [
        VariableSpec(
            name=name, label=entry["label"], sql=_sql(path, entry["sql"]),
            multi=bool(entry.get("multi")), include_all=bool(entry.get("include_all")),
        )
        for name, entry in document.get("variables", {}).items()
    ]  # fmt: skip
    if not panels:
        raise PanelFileError(f"{path}: no [[panels]]")
    return panels, variables


def _sql(toml_path: Path, relative: str) -> str:
    sql_path = toml_path.parent / relative
    try:
        return sql_path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise PanelFileError(f"{toml_path}: cannot read {sql_path} ({error.strerror})") from error


def dashboard_json(*, uid: str, title: str, datasource_uid: str, path: Path = PANELS_TOML) -> str:
    """The dashboard's JSON model: every panel on the Athena data source `datasource_uid`."""
    panels, variables = read_panel_files(path)
    source = dashboard_models.DataSourceRef(type_val=ATHENA_PLUGIN, uid=datasource_uid)
    builder = (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["stockpipe"])
        .timezone("utc")
        .time(DEFAULT_TIME_FROM, "now")
        .refresh("")
        .description(
            "Daily prices, returns, volatility and data quality of the stockpipe lake, "
            "through Athena. Panels and SQL: runtime/panels."
        )
    )
    for variable in variables:
        builder = builder.with_variable(_variable(variable, source))
    for number, (panel, position) in enumerate(zip(panels, layout(panels), strict=True), 1):
        builder = builder.with_panel(_panel(panel, source, position).id(number))
    return json.dumps(builder.build(), cls=JSONEncoder, sort_keys=True)


def layout(panels: list[PanelSpec]) -> list[dashboard_models.GridPos]:
    """Charts two to a row, each table on a row of its own, in panels.toml order; a chart
    that would sit alone on its row takes the whole row."""
    positions = []
    x = y = 0
    row_height = 0
    for index, panel in enumerate(panels):
        following = panels[index + 1] if index + 1 < len(panels) else None
        alone = x in (0, GRID_WIDTH) and (
            following is None or following.format == FormatOptions.TABLE
        )
        if panel.format == FormatOptions.TABLE:
            width, height = GRID_WIDTH, TABLE_HEIGHT
        else:
            width, height = (GRID_WIDTH if alone else GRID_WIDTH // 2), CHART_HEIGHT
        if x + width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        positions.append(dashboard_models.GridPos(h=height, w=width, x=x, y=y))
        x += width
        row_height = max(row_height, height)
    return positions


def _target(sql: str, query_format: int, source: dashboard_models.DataSourceRef):
    return (
        athena.Dataquery()
        .ref_id("A")
        .datasource(source)
        .format(FormatOptions(query_format))
        .raw_sql(sql)
        .connection_args(
            athena.ConnectionArgs()
            .region(USE_DATA_SOURCE)
            .catalog(USE_DATA_SOURCE)
            .database(USE_DATA_SOURCE)
            .result_reuse_enabled(True)
            .result_reuse_max_age_in_minutes(RESULT_REUSE_MINUTES)
        )
    )


def _variable(variable: VariableSpec, source: dashboard_models.DataSourceRef):
    query = _target(variable.sql, FormatOptions.TABLE, source).build().to_json()
    builder = (
        dashboard.QueryVariable(variable.name)
        .label(variable.label)
        .datasource(source)
        .query(query)
        .multi(variable.multi)
        .include_all(variable.include_all)
        .refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
    )
    if variable.include_all:
        builder = builder.current(
            dashboard_models.VariableOption(selected=True, text=["All"], value=["$__all"])
        )
    return builder


def _panel(
    panel: PanelSpec, source: dashboard_models.DataSourceRef, position: dashboard_models.GridPos
):
    if panel.visualisation == "timeseries":
        builder = timeseries.Panel()
        if panel.scale == "log":
            builder = builder.scale_distribution(
                common.ScaleDistributionConfig().type(common_models.ScaleDistribution.LOG).log(10)
            )
    elif panel.visualisation == "table":
        builder = table.Panel()
    else:
        raise PanelFileError(
            f"panel {panel.id!r}: visualisation {panel.visualisation!r} is not one the "
            "dashboard builds (timeseries, table)"
        )
    return (
        builder.title(panel.title)
        .description(panel.description)
        .datasource(source)
        .unit(panel.unit)
        .grid_pos(position)
        .with_target(_target(panel.sql, panel.format, source))
    )
