"""A real headless Chromium for the tests that look at pages as a reader does (Selenium +
Debian's chromium and chromium-driver).  Tests using :func:`chromium` are skipped, with the
reason, where no browser, driver or selenium is installed.

Requests: every page is loaded with the DevTools network log on; :func:`requests_made` returns
every URL the page asked for, so a test can assert that nothing left the page.
"""

from __future__ import annotations

import contextlib
import json
import shutil

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


def skip_reason() -> str | None:
    if BROWSER is None:
        return "headless Chromium is not installed (apt-get install chromium chromium-driver)"
    if DRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


needs_chromium = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium WebDriver with a ``width`` px wide window and the network log on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = BROWSER
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
              f"--window-size={width},{height}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as exc:  # noqa: BLE001 — a broken browser install is not the page's failure
        pytest.skip(f"chromium did not start: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    try:
        driver.set_window_size(width, height)
        yield driver
    finally:
        driver.quit()


def requests_made(driver) -> list[str]:
    """Every URL the page requested since the last call (from the DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


#: JavaScript: every element whose content is wider or taller than its box (pictures' insides and
#: hidden elements aside), and whether the page itself is wider than the window.
OVERFLOW_JS = r"""
const bad = [];
const desc = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') +
  ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('svg') || el.tagName === 'svg') continue;
  const cs = getComputedStyle(el);
  if (cs.display === 'inline' || cs.display === 'none' || el.clientWidth === 0) continue;
  if (el.scrollWidth > el.clientWidth + 1)
    bad.push(desc(el) + ' scrollWidth ' + el.scrollWidth + ' > clientWidth ' + el.clientWidth);
}
for (const el of document.querySelectorAll('body svg')) {
  if (el.parentElement.closest('svg')) continue;
  const r = el.getBoundingClientRect(), p = el.parentElement.getBoundingClientRect();
  if (r.width > 0 && r.right > p.right + 1 && getComputedStyle(el.parentElement).overflow !== 'hidden')
    bad.push('svg in ' + desc(el.parentElement) + ' right ' + r.right + ' > ' + p.right);
}
if (document.documentElement.scrollWidth > window.innerWidth)
  bad.push('page ' + document.documentElement.scrollWidth + ' px wide in a ' + window.innerWidth + ' px window');
return bad;
"""


def overflowing(driver) -> list[str]:
    return driver.execute_script(OVERFLOW_JS)


def screenshot(driver, path) -> None:
    """A full-page PNG (the window is resized to the page's height first)."""
    h = driver.execute_script("return document.documentElement.scrollHeight")
    w = driver.execute_script("return window.innerWidth")
    driver.set_window_size(w, min(h + 100, 16000))
    driver.save_screenshot(str(path))
