"""The program built through the package's `construct` path builds what it builds through
the classes directly: the same resources, names, parents and inputs, for both stacks and
each sink and Grafana mode; and the policy pack passes on it."""

from unittest import mock

import pytest

from components import dashboard, ingestion, wap_workflow
from components.plan import configure, render, run_program
from tests.components.conftest import TEST_API_KEY
from tests.components.package_construct import provider, through_construct
from tests.policy.test_policies import policies, violations_of


@pytest.fixture(autouse=True)
def _no_stack_config_left():
    # The runs set the stack's configuration; later tests in this process expect none.
    yield
    configure("dev", {}, [])


def _run(pulumi_mocks, stack: str, overrides: dict[str, str]):
    return run_program(pulumi_mocks, stack, api_key=TEST_API_KEY, overrides=overrides)


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [("dev", {}), ("prod", {}), ("dev", {"ingestionSink": "firehose"})],
    ids=["dev", "prod-managed-grafana", "dev-firehose"],
)
def test_the_construct_path_builds_the_same_stack_as_the_classes(pulumi_mocks, stack, overrides):
    direct = _run(pulumi_mocks, stack, overrides)
    host = provider()
    with (
        mock.patch.object(
            ingestion, "IngestionComponent", through_construct(ingestion.IngestionComponent, host)
        ),
        mock.patch.object(
            wap_workflow,
            "WapWorkflowComponent",
            through_construct(wap_workflow.WapWorkflowComponent, host),
        ),
        mock.patch.object(
            dashboard, "DashboardComponent", through_construct(dashboard.DashboardComponent, host)
        ),
    ):
        constructed = _run(pulumi_mocks, stack, overrides)

    assert len(constructed.resources) == len(direct.resources) > 40
    assert render(constructed.resources) == render(direct.resources)
    assert constructed.exports == direct.exports
    for policy in policies.POLICIES:
        assert violations_of(policy, constructed.resources) == [], policy.name
