"""The stockpipe policy pack: `pulumi preview --policy-pack policy` (the CLI runs this file).

PolicyPack starts the analyzer's gRPC server and blocks: only this file creates it; tests
import the policies from `policies.py`.
"""

from policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="stockpipe",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
