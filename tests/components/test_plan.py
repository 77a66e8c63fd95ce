"""The offline plan: each stack's resource tree matches its reviewed snapshot."""

from __future__ import annotations

import difflib

import pytest

from components.plan import MASK, main, render, run_program, snapshot_path, stacks
from tests.components.conftest import TEST_API_KEY


def test_every_stack_file_has_a_snapshot():
    assert stacks() == ["dev", "prod"]
    assert all(snapshot_path(stack).is_file() for stack in stacks())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plan_matches_the_snapshot(pulumi_mocks, stack):
    tree = render(run_program(pulumi_mocks, stack).resources)
    snapshot = snapshot_path(stack).read_text(encoding="utf-8")

    diff = "".join(
        difflib.unified_diff(
            snapshot.splitlines(keepends=True),
            tree.splitlines(keepends=True),
            fromfile=f"snapshot {stack}",
            tofile="program",
        )
    )
    assert not diff, f"the {stack} graph changed; review it, then `make plan-update`:\n{diff}"


def test_the_plan_masks_secrets_and_shows_parents_and_protection(pulumi_mocks):
    tree = render(run_program(pulumi_mocks, "prod", api_key=TEST_API_KEY).resources)
    lines = tree.splitlines()

    assert TEST_API_KEY not in tree
    assert f'    secretString: "{MASK}"' in tree
    assert "stockpipe:index:DataLake stockpipe-prod-lake" in lines
    assert "  aws:s3/bucket:Bucket stockpipe-prod-lake-bucket (protect, retainOnDelete)" in lines
    assert '      code: "[archive]"' in lines


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "config:\n  stockpipe:symbols: [NVDA\n  aws:region: us-east-1\n",
            "Pulumi.broken.yaml line 3, column 13: not valid YAML",
        ),
        ("config: 5\n", "Pulumi.broken.yaml: `config` must be a mapping"),
        ("- config\n", "Pulumi.broken.yaml: must be a mapping with a `config:` key, not a list"),
        ("config:\n  5: x\n", "Pulumi.broken.yaml: config key 5 must be text"),
    ],
    ids=["yaml syntax", "config not a mapping", "file not a mapping", "key not text"],
)
def test_a_stack_file_make_plan_cannot_read_is_one_line_naming_the_file(
    tmp_path, capsys, text, message
):
    (tmp_path / "Pulumi.broken.yaml").write_text(text, encoding="utf-8")

    assert main(["broken"], project_dir=tmp_path) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: stack broken: {message}")
    assert "Traceback" not in err
