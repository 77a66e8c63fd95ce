"""The stockpipe component package's entry point: Pulumi runs it to host the components.

The package is this repository: the components import from its root, and the code they
deploy (runtime/) is found beside them, wherever the repository was downloaded to.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components.package import COMPONENTS, NAME, version

if __name__ == "__main__":
    component_provider_host(COMPONENTS, NAME, version=version())
