"""The HTML claim book in a real browser: headless Chromium through selenium.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the
PyPI package ``selenium``; without them the tests skip and say why. Nothing is fetched from the
network: the driver and the browser are the installed ones, and the book is opened from file://.
Screenshots go to pytest's temporary folder (or ``$SPEC_SCREENSHOT_DIR``), never into the repository.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from spec import book
from spec.claims import registry
from tests.meta.test_docs import BOOK, MATRIX_RESULTS, synthetic_results

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser check needs selenium (pip install selenium)")
    pytest.importorskip("jinja2", reason="the claim book needs jinja2")
    chromium = os.environ.get("SPEC_CHROMIUM") or _find("chromium", "chromium-browser", "google-chrome")
    driver_path = os.environ.get("SPEC_CHROMEDRIVER") or _find("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("headless Chromium is not installed: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="spec-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1200,900")
    # An explicit driver path: selenium never downloads a driver.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_book(tmp_path_factory) -> Path:
    """A book rendered now from synthetic results in which the first claim fails on one version."""
    pytest.importorskip("jinja2", reason="the claim book needs jinja2")
    tmp = tmp_path_factory.mktemp("book")
    out = tmp / "book"
    book.write_book(book.build_book(synthetic_results(tmp, failing=next(iter(registry())))), out)
    return out / "index.html"


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ["SPEC_SCREENSHOT_DIR"]) if os.environ.get("SPEC_SCREENSHOT_DIR") else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return where


def visible_ids(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('article.claim'))"
        ".filter(function (a) { return a.offsetParent !== null; }).map(function (a) { return a.id; });"
    )


def type_filter(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "filter")
    box.clear()
    if text:
        box.send_keys(text)
    else:  # clear() does not fire an input event
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'));", box)


def check_book(driver, index: Path, shots: Path, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    claims = registry()
    ids = list(claims)
    driver.get(index.resolve().as_uri())

    # Every claim is there, under an element whose id is the claim ID, and shown.
    assert visible_ids(driver) == ids
    for cid in ids:
        assert driver.find_element(By.ID, cid).find_element(By.CSS_SELECTOR, "a.id").text == cid
    assert driver.find_element(By.ID, "count").text == f"showing {len(ids)} of {len(ids)}"
    driver.save_screenshot(str(shots / f"{name}-all.png"))

    # The filter by ID hides every other claim.
    target = "LEAF-004" if "LEAF-004" in claims else ids[-1]
    type_filter(driver, target.lower())
    assert visible_ids(driver) == [target]
    assert driver.find_element(By.ID, "count").text == f"showing 1 of {len(ids)}"
    driver.save_screenshot(str(shots / f"{name}-filtered.png"))

    # Nothing matches: the page says so.
    type_filter(driver, "no-such-claim-zzz")
    assert visible_ids(driver) == []
    assert driver.find_element(By.ID, "none").is_displayed()
    type_filter(driver, "")
    assert visible_ids(driver) == ids

    # The filter by section.
    section = claims[ids[-1]].section
    Select(driver.find_element(By.ID, "section")).select_by_visible_text(section)
    assert visible_ids(driver) == [c for c in ids if claims[c].section == section]
    Select(driver.find_element(By.ID, "section")).select_by_value("")

    # The filter by status: the chips.
    statuses = driver.execute_script(
        "var o = {}; document.querySelectorAll('article.claim').forEach(function (a) { o[a.id] = a.dataset.status; }); return o;"
    )
    for status in sorted(set(statuses.values())):
        driver.find_element(By.CSS_SELECTOR, f'button.chip[data-status="{status}"]').click()
        assert visible_ids(driver) == [c for c in ids if statuses[c] == status]
    driver.find_element(By.CSS_SELECTOR, 'button.chip[data-status=""]').click()
    assert visible_ids(driver) == ids

    # A link to a claim that the filter hides shows it again.
    type_filter(driver, ids[0])
    driver.get(index.resolve().as_uri() + f"?q={ids[0]}#{ids[-1]}")
    assert ids[-1] in visible_ids(driver)


def test_fresh_book_in_a_browser(browser, fresh_book, shots):
    check_book(browser, fresh_book, shots, "fresh")
    # The failing claim is found by its status.
    from selenium.webdriver.common.by import By

    browser.get(fresh_book.resolve().as_uri())
    browser.find_element(By.CSS_SELECTOR, 'button.chip[data-status="fail"]').click()
    assert visible_ids(browser) == [next(iter(registry()))]


def test_committed_book_in_a_browser(browser, shots):
    index = BOOK / "index.html"
    if not index.is_file() or not sorted(MATRIX_RESULTS.glob("*.json")):
        pytest.skip("no committed book rendered from docs/matrix/results")
    check_book(browser, index, shots, "committed")


def test_book_fits_a_phone_screen(browser, fresh_book, shots):
    browser.set_window_size(390, 844)
    try:
        browser.get(fresh_book.resolve().as_uri())
        inner, scroll = browser.execute_script("return [window.innerWidth, document.documentElement.scrollWidth];")
        assert scroll <= inner, f"the page scrolls sideways on a phone ({scroll} > {inner} CSS pixels)"
        browser.save_screenshot(str(shots / "phone.png"))
    finally:
        browser.set_window_size(1200, 900)


def test_hazards_page_in_a_browser(browser, shots):
    """The Hazards section is linked from the top of the book and shows every hazard with its status table."""
    from selenium.webdriver.common.by import By

    index = BOOK / "index.html"
    if not index.is_file() or not sorted(MATRIX_RESULTS.glob("*.json")):
        pytest.skip("no committed book rendered from docs/matrix/results")
    hazards = [cid for cid, c in registry().items() if c.kind == "hazard"]
    assert hazards, "the registry has no hazard claims"
    browser.get(index.resolve().as_uri())
    browser.find_element(By.CSS_SELECTOR, 'a[href="#hazards"]').click()
    section = browser.find_element(By.ID, "hazards")
    assert section.is_displayed()
    assert browser.execute_script("return location.hash") == "#hazards"
    shown = [a.text for a in section.find_elements(By.CSS_SELECTOR, "div.hazard h3 a.id")]
    assert sorted(shown) == sorted(hazards), f"the Hazards section lists {shown}, the registry {hazards}"
    for box in section.find_elements(By.CSS_SELECTOR, "div.hazard"):
        assert box.find_elements(By.CSS_SELECTOR, "table td"), "a hazard without its status across versions"
        assert "upstream" in box.text
    browser.save_screenshot(str(shots / "hazards.png"))
