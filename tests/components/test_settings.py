"""The declared settings (`Setting` rows) are what the loader does: defaults and examples.

`docs/configuration.md` is generated from these rows, so a row whose default is not the
loader's, or whose example the loader refuses, would document a lie.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator

import pulumi
import pytest
import yaml

from components import config, grafana_config
from components.config import SETTINGS, StackConfig, load_stack_config
from components.plan import configure
from components.setting import Setting
from tests.components.conftest import TEST_API_KEY

API_KEY = f"{config.NAMESPACE}:{config.API_KEY}"
TOKEN = f"{config.NAMESPACE}:{grafana_config.GRAFANA_TOKEN}"
TOP_LEVEL = [s for s in SETTINGS if not s.secret and not s.fields]
GRAFANA = next(s for s in SETTINGS if s.key == grafana_config.GRAFANA)
URL = next(s for s in GRAFANA.fields if s.key == "url")
ROLE = next(s for s in GRAFANA.fields if s.key == "assumeRoleArn")


@pytest.fixture
def load() -> Iterator[Callable[..., StackConfig]]:
    """The stack configuration with these `stockpipe` keys, as the CLI passes them."""

    def run(token: bool = False, **keys: str) -> StackConfig:
        values = {API_KEY: TEST_API_KEY, **{f"{config.NAMESPACE}:{k}": v for k, v in keys.items()}}
        secrets = [API_KEY]
        if token:
            values[TOKEN] = "glsa_test-token"
            secrets.append(TOKEN)
        configure("dev", values, secrets)
        return load_stack_config(pulumi.Config(config.NAMESPACE), "dev")

    yield run
    configure("dev", {}, [])


def settled(stack: StackConfig) -> dict:
    """The loaded values, without the secrets (outputs, which never compare equal)."""
    values = {f.name: getattr(stack, f.name) for f in dataclasses.fields(stack)}
    values.pop("api_key")
    values["grafana"] = dataclasses.replace(stack.grafana, token=None)
    return values


def grafana_object(field: Setting, value: str) -> dict:
    """A `stockpipe:grafana` object holding `field` = `value` (YAML) in the field's mode."""
    settings = {"mode": field.mode or "none"}
    if field.mode == "external":
        settings["url"] = URL.example
    if field.key == "externalId":
        settings["assumeRoleArn"] = ROLE.example
    settings[field.key] = yaml.safe_load(value)
    return settings


def test_every_key_the_loader_reads_is_declared_once():
    keys = [s.key for s in SETTINGS]

    assert len(keys) == len(set(keys))
    assert tuple(keys) == config.KEYS
    assert tuple(s.key for s in GRAFANA.fields) == grafana_config.OBJECT_KEYS


@pytest.mark.parametrize("setting", [s for s in TOP_LEVEL if s.default], ids=lambda s: s.key)
def test_a_declared_default_is_the_loaders_default(load, setting):
    value = setting.default
    if setting.type == "object":
        value = json.dumps(yaml.safe_load(value))

    assert settled(load(**{setting.key: value})) == settled(load())


@pytest.mark.parametrize("setting", TOP_LEVEL, ids=lambda s: s.key)
def test_a_declared_example_is_accepted(load, setting):
    value = setting.example
    if setting.type == "object":
        value = json.dumps(yaml.safe_load(value))

    load(**{setting.key: value})


@pytest.mark.parametrize("field", [f for f in GRAFANA.fields if f.default], ids=lambda f: f.key)
def test_a_declared_grafana_default_is_the_loaders_default(load, field):
    external = field.mode == "external"
    with_default = grafana_object(field, field.default)
    without = {k: v for k, v in with_default.items() if k != field.key or k == "mode"}
    if field.key == "mode":
        without = {}

    assert settled(load(external, grafana=json.dumps(with_default))) == settled(
        load(external, grafana=json.dumps(without))
    )


@pytest.mark.parametrize("field", GRAFANA.fields, ids=lambda f: f.key)
def test_a_declared_grafana_example_is_accepted(load, field):
    settings = grafana_object(field, field.example)
    external = settings["mode"] == "external"

    loaded = load(external, grafana=json.dumps(settings)).grafana

    assert loaded.mode == settings["mode"]


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.secret], ids=lambda s: s.key)
def test_secret_settings_are_refused_in_clear_text(load, setting):
    values = {API_KEY: TEST_API_KEY, f"{config.NAMESPACE}:{setting.key}": "clear-text-value"}
    if setting.key == grafana_config.GRAFANA_TOKEN:
        values[f"{config.NAMESPACE}:{grafana_config.GRAFANA}"] = json.dumps(
            {"mode": "external", "url": URL.example}
        )
    secrets = [API_KEY] if setting.key != config.API_KEY else []
    configure("dev", values, secrets)

    with pytest.raises(config.StackConfigError, match=f"{setting.key} is set in clear text"):
        load_stack_config(pulumi.Config(config.NAMESPACE), "dev")
