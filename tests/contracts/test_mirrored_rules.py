"""Rules the stack repeats from the runtime (infrastructure never imports runtime) still match."""

from __future__ import annotations

import importlib.metadata

from components import artifacts, config, ingestion, storage, wap_workflow
from components.plan import PROJECT_ROOT
from runtime.ingest import alphavantage, run, settings
from runtime.ingest.alphavantage import RetryPolicy
from tools.lock_check import read_lock


def test_tickers_and_defaults_are_the_runtimes():
    assert config.SYMBOL_PATTERN.pattern == settings.SYMBOL_PATTERN.pattern
    assert config.DEFAULT_SYMBOLS == settings.DEFAULT_SYMBOLS
    assert config.DEFAULT_CALLS_PER_MINUTE == settings.DEFAULT_CALLS_PER_MINUTE
    assert config.OUTPUT_SIZES == settings.OUTPUT_SIZES
    assert set(config.SINKS) <= set(settings.SINKS)
    assert storage.RAW_PREFIX == settings.DEFAULT_RAW_PREFIX
    assert ingestion.SERVICE_NAME == settings.SERVICE_NAME


def test_the_timeout_derivation_uses_the_handlers_pacing_constants():
    policy = RetryPolicy()
    assert config.REQUEST_SECONDS == (
        alphavantage.CONNECT_TIMEOUT_SECONDS + settings.DEFAULT_REQUEST_TIMEOUT_SECONDS
    )
    assert policy.max_attempts == config.MAX_ATTEMPTS
    assert policy.max_backoff == config.MAX_BACKOFF_SECONDS
    assert config.SAFETY_MARGIN_SECONDS == run.SAFETY_MARGIN_SECONDS
    assert config.MIN_CALL_INTERVAL_SECONDS == settings.FREE_KEY_MIN_INTERVAL_SECONDS


def test_the_powertools_layer_is_the_release_the_tests_run_against():
    pins = {pin.name: pin.version for pin in read_lock(PROJECT_ROOT / "requirements.txt")}

    assert pins["aws-lambda-powertools"] == ingestion.powertools_version()
    assert importlib.metadata.version("aws-lambda-powertools") == ingestion.powertools_version()


def test_the_function_runtime_is_the_one_the_artifact_is_built_for():
    version = artifacts.PLATFORM_ARGS[artifacts.PLATFORM_ARGS.index("--python-version") + 1]
    platform = artifacts.PLATFORM_ARGS[artifacts.PLATFORM_ARGS.index("--platform") + 1]

    assert f"python{version}" == ingestion.LAMBDA_RUNTIME
    assert platform.endswith("aarch64")
    assert ingestion.ARCHITECTURE == "arm64"
    assert f"{artifacts.HANDLER_MODULE}.handler" == ingestion.HANDLER


def test_the_workflows_tables_steps_and_metrics_are_the_jobs():
    from runtime import schema
    from runtime.wap import config as wap_config
    from runtime.wap import job, metrics

    assert wap_workflow.RAW_COLUMNS == schema.RAW_COLUMNS
    assert wap_workflow.RAW_SPLITS_COLUMNS == schema.RAW_SPLITS_COLUMNS
    assert (wap_workflow.RAW_TABLE, wap_workflow.RAW_FIREHOSE_TABLE) == wap_config.RAW_TABLES
    assert wap_workflow.RAW_SPLITS_TABLE == wap_config.RAW_SPLITS_TABLE
    assert wap_workflow.STEPS == job.STEPS
    assert wap_workflow.AGE_METRIC == metrics.AGE_METRIC
    assert artifacts.JOB_SCRIPT.relative_to(PROJECT_ROOT).as_posix() == (
        artifacts.JOB_MODULE.replace(".", "/") + ".py"
    )
