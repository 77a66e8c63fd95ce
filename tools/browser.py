"""The system's Chromium under Playwright: the report's browser test and `make screenshot`.

Playwright drives the Chromium the system has (Debian's `chromium` package), never a browser
it downloads: the path comes from STOCKPIPE_CHROMIUM, default /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM_ENV = "STOCKPIPE_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = (
    f"no Chromium at {{path}}: install Debian's (sudo apt-get install -y chromium) or set "
    f"{CHROMIUM_ENV} to a Chromium or Chrome executable"
)


def chromium_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)


def missing_chromium(environ: Mapping[str, str] | None = None) -> str | None:
    """Why no browser can run here (with how to install one), or None."""
    path = chromium_path(environ)
    if path.is_file() and os.access(path, os.X_OK):
        return None
    return INSTALL_HINT.format(path=path)


@contextmanager
def chromium(environ: Mapping[str, str] | None = None) -> Iterator[Browser]:
    """A headless Chromium (Playwright runs it without its sandbox, so root can too)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path(environ)))
        try:
            yield browser
        finally:
            browser.close()
