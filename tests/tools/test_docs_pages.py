"""The documentation: generated pages current, a strict build that fails on a broken site,
and a built site that fetches nothing from another host."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from components.setting import Setting
from tools import docs_pages

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MKDOCS = [sys.executable, "-m", "mkdocs"]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
# What a page loads: scripts, stylesheets, images, fonts (links to other sites are fine).
LOADED = re.compile(
    r'<(?:script|img|source|iframe)\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\bhref="([^"]+)"'
)


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own interpreter and files)
        [*MKDOCS, "build", "--strict", "-f", str(project / "mkdocs.yml"), "-d", str(site)],
        capture_output=True, text=True, env=ENV, check=False,
    )  # fmt: skip


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copytree(PROJECT_ROOT / "docs", project / "docs")
    return project


def test_the_generated_pages_are_current(capsys):
    assert docs_pages.main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_page_is_named_and_make_docs_rewrites_it(tmp_path, monkeypatch, capsys):
    page = tmp_path / "configuration.md"
    text = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    page.write_text(text.replace("| `5` |", "| `6` |"), encoding="utf-8")
    monkeypatch.setattr(docs_pages, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(
        docs_pages, "PAGES", (docs_pages.GeneratedPage(page, docs_pages.settings_block),)
    )

    assert docs_pages.main(["--check"]) == 1
    assert "stale generated docs: configuration.md; run `make docs`" in capsys.readouterr().err

    assert docs_pages.main([]) == 0
    assert page.read_text(encoding="utf-8") == text


def test_a_newly_declared_setting_is_documented_with_its_type_default_rule_and_example():
    setting = Setting(
        "maxSymbols", "whole number", "20", "a whole number from 1 to 60", "30",
        "How many symbols one run may fetch.",
    )  # fmt: skip

    block = docs_pages.settings_block([setting])

    assert "| [`stockpipe:maxSymbols`](#maxsymbols) | whole number | `20` |" in block
    assert "### `maxSymbols` {#maxsymbols}" in block
    assert "| rule | a whole number from 1 to 60 |" in block
    assert "pulumi config set stockpipe:maxSymbols 30" in block


def test_every_panel_is_documented_with_its_sql():
    page = (PROJECT_ROOT / "docs" / "panels.md").read_text(encoding="utf-8")

    for sql in sorted((PROJECT_ROOT / "runtime" / "panels" / "sql").glob("*.sql")):
        assert f"`runtime/panels/sql/{sql.name}`" in page
        assert sql.read_text(encoding="utf-8").strip() in page


def test_the_site_builds_and_loads_nothing_from_another_host(tmp_path):
    site = tmp_path / "site"

    result = build(PROJECT_ROOT, site)

    assert result.returncode == 0, result.stderr
    nav = yaml.safe_load((PROJECT_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    pages = re.findall(r"([\w-]+)\.md", str(nav))
    for page in pages:
        assert (site / f"{page}.html").is_file(), page
    remote = {
        url
        for html in site.rglob("*.html")
        for match in LOADED.finditer(html.read_text(encoding="utf-8"))
        for url in match.groups()
        if url and re.match(r"(https?:)?//", url)
    }
    assert remote == set()
    assert (site / "diagrams" / "flow.svg").is_file()
    assert (site / "search" / "search_index.js").is_file()


def test_a_broken_link_anchor_or_page_fails_the_strict_build(tmp_path):
    project = copy_project(tmp_path)
    docs = project / "docs"
    _append(docs / "index.md", "[gone](gone.md) and [x](getting-started.md#nope)")
    (docs / "concepts.md").unlink()
    (docs / "stray.md").write_text("# Stray\n", encoding="utf-8")

    result = build(project, tmp_path / "site")

    assert result.returncode != 0
    for warning in ("'gone.md'", "'#nope'", "'concepts.md'", "stray.md"):
        assert warning in result.stderr, warning


def _append(page: Path, text: str) -> None:
    page.write_text(page.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")
