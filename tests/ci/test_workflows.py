"""The GitHub workflows are valid, pass zizmor's security audit, and do what the README says.

Both tools run offline: check-jsonschema validates against the GitHub-workflow schema
vendored in its wheel, and `zizmor --offline` skips the audits that need GitHub's API
(e.g. that a pinned SHA really belongs to the action's repository; the SHAs were taken
from the actions' tags). What only GitHub shows: that the OIDC roles, variables and the
`prod` environment's required reviewers exist in the repository settings.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.lock_check import read_lock

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (the venv's own tools)
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=60, check=False
    )


def check_jsonschema(
    *paths: Path, schema: str = "vendor.github-workflows"
) -> subprocess.CompletedProcess:
    return run_tool("check-jsonschema", "--builtin-schema", schema, *map(str, paths))


def zizmor(path: Path) -> subprocess.CompletedProcess:
    return run_tool("zizmor", "--offline", "--no-progress", str(path))


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps_using(job: dict, action: str) -> list[dict]:
    # a job that calls a reusable workflow has no steps of its own
    steps = job.get("steps", [])
    return [step for step in steps if step.get("uses", "").startswith(f"{action}@")]


def test_every_workflow_matches_githubs_schema():
    result = check_jsonschema(*sorted(WORKFLOWS.glob("*.yml")))

    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflows():
    result = zizmor(WORKFLOWS)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checks_reject_a_broken_and_an_unsafe_workflow(tmp_path):
    # The two tools must actually look: a schema error and a classic injection.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps: []\n", encoding="utf-8")
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text(
        "on: pull_request_target\n"
        "permissions: {}\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v7\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )

    assert check_jsonschema(broken).returncode != 0
    assert zizmor(unsafe).returncode != 0


@pytest.mark.parametrize("name", ["test.yml", "preview.yml", "deploy.yml"])
def test_every_action_is_pinned_to_a_commit_and_permissions_start_empty(name):
    workflow = load(name)

    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]


def test_the_test_workflow_runs_make_test_on_pull_requests_and_for_deploy():
    workflow = load("test.yml")

    assert set(workflow["on"]) == {"pull_request", "workflow_call"}
    (job,) = workflow["jobs"].values()
    assert [step["run"] for step in job["steps"] if "run" in step] == [".ci/chromium", "make test"]
    (make_test,) = [step for step in job["steps"] if step.get("run") == "make test"]
    assert make_test["env"] == {"STOCKPIPE_BROWSER_REQUIRED": "1"}  # the browser test runs


def test_the_tests_run_on_every_supported_python_and_deploys_use_the_oldest():
    (job,) = load("test.yml")["jobs"].values()
    (setup,) = steps_using(job, "actions/setup-python")
    deploy_pythons = {
        step["with"]["python-version"]
        for name in ("preview.yml", "deploy.yml")
        for job in load(name)["jobs"].values()
        for step in steps_using(job, "actions/setup-python")
    }

    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    # the lock is compiled for 3.11 and up (make lock: --python-version=3.11)
    assert deploy_pythons == {"3.11"}


def test_the_pulumi_cli_of_every_workflow_is_the_locked_sdks_release():
    (sdk,) = [
        pin.version for pin in read_lock(PROJECT_ROOT / "requirements.txt") if pin.name == "pulumi"
    ]
    clis = {
        step["with"]["pulumi-version"]
        for name in ("preview.yml", "deploy.yml")
        for job in load(name)["jobs"].values()
        for step in steps_using(job, "pulumi/actions")
    }

    assert clis == {sdk}


def test_renovate_updates_the_locks_and_actions_and_moves_boto3_botocore_and_moto_together():
    config_path = PROJECT_ROOT / ".github" / "renovate.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    groups = {
        rule.get("groupName"): set(rule.get("matchPackageNames", []))
        for rule in config["packageRules"]
    }

    result = check_jsonschema(config_path, schema="vendor.renovate")

    assert result.returncode == 0, result.stdout + result.stderr
    assert {"boto3", "botocore", "moto"} <= groups["boto3, botocore and moto"]
    # the pip-compile manager re-runs each lock's header command; it matches the locks only
    (pattern,) = config["pip-compile"]["managerFilePatterns"]
    matched = re.compile(pattern.strip("/"))
    assert matched.search("requirements.txt")
    assert matched.search("policy/requirements.txt")
    assert not matched.search("requirements.in")
    assert not matched.search("components/lambda_requirements.txt")
    assert config["pip_requirements"] == {"enabled": False}


def test_pull_requests_preview_dev_and_prod_with_a_comment_and_oidc():
    workflow = load("preview.yml")

    assert set(workflow["on"]) == {"pull_request"}
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert job["permissions"]["id-token"] == "write"
    assert job["permissions"]["pull-requests"] == "write"
    (credentials,) = steps_using(job, "aws-actions/configure-aws-credentials")
    assert "role-to-assume" in credentials["with"]
    assert "aws-access-key-id" not in credentials["with"]
    (pulumi,) = steps_using(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["comment-on-pr"] is True
    # pulumi/actions installs no Python packages: a step before it must.
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Install Python dependencies") < job["steps"].index(pulumi)


def test_main_deploys_dev_after_the_tests_and_prod_only_through_its_environment():
    workflow = load("deploy.yml")

    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert jobs["test"]["uses"].endswith(".github/workflows/test.yml")
    assert jobs["deploy-dev"]["needs"] == "test"
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    assert jobs["deploy-prod"]["environment"] == "prod"
    for job_name, stack in (("deploy-dev", "dev"), ("deploy-prod", "prod")):
        (pulumi,) = steps_using(jobs[job_name], "pulumi/actions")
        assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", stack)
        assert jobs[job_name]["permissions"]["id-token"] == "write"
        # A refresh reads the Grafana resources with the token in the state: once that token
        # has expired it fails, and the `up` that would replace the token never runs.
        assert "refresh" not in pulumi["with"]
        # The smoke test runs against what `pulumi up` just deployed, right after it.
        steps = jobs[job_name]["steps"]
        after_up = steps[steps.index(pulumi) + 1]
        assert after_up["run"] == f"make smoke STACK={stack}"


def test_pull_requests_get_each_stacks_cost_estimate_beside_the_preview():
    job = load("preview.yml")["jobs"]["preview"]
    names = [step.get("name") for step in job["steps"]]
    estimate = job["steps"][names.index("Estimate the monthly cost")]
    post = job["steps"][names.index("Post the cost estimate on the pull request")]
    (pulumi,) = steps_using(job, "pulumi/actions")

    assert estimate["env"]["STACK"] == "${{ matrix.stack }}"
    assert 'make -s cost STACK="${STACK}"' in estimate["run"]
    assert "$GITHUB_STEP_SUMMARY" in estimate["run"]
    assert "gh pr comment" in post["run"]
    assert "body=@cost.md" in post["run"]
    # after the install, and needing no AWS credentials: before they are configured
    assert names.index("Install Python dependencies") < job["steps"].index(estimate)
    assert job["steps"].index(post) < job["steps"].index(pulumi)
    assert "${{" not in estimate["run"] + post["run"]
