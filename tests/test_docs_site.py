"""The built documentation site, looked at in a headless Chromium.

Run after building the site (the README's command; .ci/run does both)::

    python -m sphinx -n -W --keep-going -b html docs docs/_build/html
    python -m pytest -m site

Opens the index page, the API page of ``simulate`` and the quick-start example
in the system's Chromium (Debian's ``chromium`` package), driven by
Playwright; saves a screenshot of each into docs/_build/screenshots; checks
each page's title and that every image on it loaded. Then walks every built
page's relative links (pages, anchors, images, scripts, styles) and checks
each target exists. Skipped only where there is no Chromium or no Playwright.
"""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.site

DOCS = Path(__file__).resolve().parents[1] / "docs"
SITE = Path(os.environ.get("LABELNOISE_SITE", DOCS / "_build" / "html")).resolve()
BUILD = "python -m sphinx -n -W --keep-going -b html docs docs/_build/html"

#: The pages looked at: path in the site, and what the browser's title must hold.
PAGES = {
    "index.html": "labelnoise-sim",
    "reference/generated/labelnoise_sim.simulate.html": "simulate",
    "auto_examples/plot_01_quick_start.html": "Quick start",
}

#: Pages whose equations must be typeset, and how many at least.
MATHS = {"reference/generated/labelnoise_sim.simulate.html": 5}

#: Every image of the page: [src, width in pixels once loaded]; lazy images are made eager and awaited first.
IMAGES = """async () => {
    const images = Array.from(document.images);
    images.forEach(image => { image.loading = "eager"; });
    await Promise.all(images.map(image => image.complete ? null
        : new Promise(done => { image.onload = image.onerror = done; })));
    return images.map(image => [image.currentSrc || image.src, image.naturalWidth]);
}"""


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site in {SITE}; build it first: {BUILD}")
    return SITE


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright (the site extra) is not installed")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.mark.parametrize("path", list(PAGES))
def test_page_opens_with_its_title_and_images(site, browser, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((site / path).as_uri(), wait_until="load")
    shots = site.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=shots / (path.replace("/", "_").removesuffix(".html") + ".png"), full_page=True)
    assert PAGES[path] in page.title(), f"{path}: title {page.title()!r}"
    assert page.locator("h1").first.is_visible(), f"{path} shows no heading"
    images = page.evaluate(IMAGES)
    broken = [src for src, width in images if width == 0]
    assert not broken, f"{path}: images that did not load: {broken}"
    if path.startswith("auto_examples/"):
        assert images, f"{path} shows no figure"
    if path in MATHS:
        # MathJax, served by the site itself, typesets the page's equations into mjx-container elements.
        page.wait_for_selector("mjx-container", timeout=20_000)
        assert page.locator("mjx-container").count() >= MATHS[path], f"{path}: equations not typeset"
    assert not errors, f"{path}: script errors {errors}"
    page.close()


class _Links(HTMLParser):
    """The ids of a page and the targets of its links, images, scripts and style sheets."""

    def __init__(self):
        super().__init__()
        self.ids, self.targets = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        target = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag in ("img", "script") else None
        if target:
            self.targets.append(target)


def test_no_internal_link_is_broken(site):
    pages = {}
    for path in site.rglob("*.html"):
        if "_static" not in path.relative_to(site).parts:  # the theme's template fragments are not pages
            pages[path.resolve()] = parser = _Links()
            parser.feed(path.read_text(encoding="utf-8"))
    broken = []
    for path, parser in pages.items():
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith("//"):
                continue  # external: Sphinx's linkcheck builder is the tool for those, with a network
            file = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not file.exists():
                broken.append(f"{path.relative_to(site)}: {target}")
            elif parts.fragment and file in pages and parts.fragment not in pages[file].ids:
                broken.append(f"{path.relative_to(site)}: {target} (no such anchor)")
    assert len(pages) > 30
    assert not broken, "broken internal links:\n" + "\n".join(broken)
