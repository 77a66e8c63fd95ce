"""The policy pack runs in the project's venv: its lock must be a part of the project's."""

from __future__ import annotations

from components.plan import PROJECT_ROOT
from tools.lock_check import read_lock


def test_every_pin_of_the_pack_is_the_projects_pin_with_the_same_hashes():
    project = {
        (pin.name, str(pin.requirement.marker)): pin
        for pin in read_lock(PROJECT_ROOT / "requirements.txt")
    }
    pack = read_lock(PROJECT_ROOT / "policy" / "requirements.txt")

    assert {"pulumi", "pulumi-aws", "pulumi-policy"} <= {pin.name for pin in pack}
    for pin in pack:
        ours = project[pin.name, str(pin.requirement.marker)]
        assert (pin.version, set(pin.hashes)) == (ours.version, set(ours.hashes)), pin.name
