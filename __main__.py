"""The stockpipe Pulumi program: reads stack configuration and wires the components.

The components (IngestionComponent, WapWorkflowComponent, DashboardComponent) land with the
infrastructure issues; until then this program validates the configuration it will pass them
and declares no resources, so `pulumi preview` is a no-op.
"""

import pulumi

config = pulumi.Config()
symbols = [s.strip() for s in config.get("symbols", "").split(",") if s.strip()]
pulumi.export("symbols", symbols)
