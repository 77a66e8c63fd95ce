"""Building components under the process's Pulumi mocks and reading what they registered."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from moto.server import ThreadedMotoServer

from components.plan import SECRET_SIG, SIG_KEY, Registered, StackMocks, configure, run_program

TEST_API_KEY = "AVKEY-test-9f8e7d6c5b"
# A small stand-in for the Lambda zip: component tests look at the graph, not the code.
TEST_CODE = pulumi.AssetArchive({"runtime/__init__.py": pulumi.StringAsset("")})


def plain(value: Any) -> Any:
    """An input with Pulumi's secret wrappers removed."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@dataclass
class Graph:
    """The resources one build registered."""

    resources: list[Registered]
    exports: dict[str, Any] | None = None

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, role: str | None = None) -> Registered:
        """The single resource of a type (whose name ends in `-<role>` when given)."""
        found = [r for r in self.of_type(type_) if role is None or r.name.endswith(f"-{role}")]
        assert len(found) == 1, f"{len(found)} {type_} named *-{role}: {[r.name for r in found]}"
        return found[0]

    def inputs(self, type_: str, role: str | None = None) -> dict[str, Any]:
        return plain(self.one(type_, role).inputs)

    def policy(self, type_: str, role: str | None = None, field: str = "policy") -> dict:
        return json.loads(self.inputs(type_, role)[field])

    def policies(self) -> dict[str, dict]:
        """Every IAM or resource policy document, by resource name and field."""
        documents = {}
        for resource in self.resources:
            for field, value in plain(resource.inputs).items():
                if isinstance(value, str) and '"Statement"' in value:
                    documents[f"{resource.name}.{field}"] = json.loads(value)
        return documents

    def children_of(self, component: Registered) -> list[Registered]:
        return [r for r in self.resources if r.parent_urn == component.urn]


@pytest.fixture
def build(pulumi_mocks: StackMocks) -> Callable[[Callable[[], Any]], Graph]:
    """Run a function that declares resources under the mocks; return what it registered."""

    def run(declare: Callable[[], Any]) -> Graph:
        pulumi_mocks.reset()

        @pulumi.runtime.test
        def program() -> None:
            declare()

        program()
        return Graph(list(pulumi_mocks.resources))

    return run


@pytest.fixture
def stack_graph(pulumi_mocks: StackMocks) -> Iterator[Callable[..., Graph]]:
    """The whole program's graph for a stack (Pulumi.<stack>.yaml, the test API key)."""

    def run(stack: str, **overrides: str) -> Graph:
        run = run_program(pulumi_mocks, stack, api_key=TEST_API_KEY, overrides=overrides)
        return Graph(run.resources, run.exports)

    yield run
    configure("dev", {}, [])


_graphs: dict[tuple, Graph] = {}


@pytest.fixture
def cached_graph(stack_graph) -> Callable[..., Graph]:
    """`stack_graph`, built once per process for each stack and overrides (a graph is data)."""

    def get(stack: str = "dev", **overrides: str) -> Graph:
        key = (stack, tuple(sorted(overrides.items())))
        if key not in _graphs:
            _graphs[key] = stack_graph(stack, **overrides)
        return _graphs[key]

    return get


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto's server on a free local port, for code that runs in another process."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
