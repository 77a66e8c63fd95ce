"""The offline plan: each stack's resource tree matches its reviewed snapshot."""

from __future__ import annotations

import difflib

import pytest

from components.plan import MASK, render, run_program, snapshot_path, stacks
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
