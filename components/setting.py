"""How a stack setting is declared: one row of the configuration reference.

`components/config.py` and `components/grafana_config.py` declare each key they read as a
`Setting`; the key lists their loaders check against come from these rows, and
`tools/docs_pages.py` writes `docs/configuration.md` from them, so the reference cannot
drift from the code. `tests/components/test_settings.py` loads every declared default and
example through `load_stack_config`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One configuration key: what it holds, its default and rule, an example value."""

    key: str
    type: str
    # The value the loader uses when the key is unset, written as `pulumi config set` takes
    # it; None when there is none (required, or off while unset).
    default: str | None
    rule: str
    example: str
    description: str
    # What the default depends on, or why there is none (shown instead of a plain value).
    default_note: str = ""
    secret: bool = False
    # For a key inside an object setting: the object's mode it belongs to ("" = any).
    mode: str = ""
    # The keys of an object setting, each declared the same way.
    fields: tuple[Setting, ...] = ()
