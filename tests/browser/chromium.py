"""Headless Debian Chromium driven by selenium through /usr/bin/chromedriver: no browser
download, no network (selenium-manager is never asked because the driver path is given)."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1"]
INSTALL_HINT = ("the browser test needs Debian's Chromium and its driver: run .ci/run's "
                "install step (apt-get update && apt-get install -y chromium chromium-driver) "
                "and pip install selenium")


def _binary(env: str, names: tuple[str, ...]) -> str:
    if os.environ.get(env):
        return os.environ[env]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{names[0]} not found; {INSTALL_HINT}")


def chromium_driver(width: int = 1280, height: int = 900) -> Any:
    """A started headless Chromium (``webdriver.Chrome``); quit it when done."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ModuleNotFoundError:
        pytest.fail(f"selenium is not installed; {INSTALL_HINT}")
    chromedriver = _binary("CHROMEDRIVER", ("chromedriver",))
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("CHROMIUM", ("chromium", "chromium-browser"))
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(30)
    return driver


_FETCH_JS = """
const [url, done] = arguments;
fetch(url).then((r) => r.arrayBuffer()).then((buffer) => {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  done(btoa(text));
}).catch((error) => done("ERROR " + error));
"""


def fetch_in_page(driver: Any, url: str) -> bytes:
    """The bytes behind a URL as the page sees it (blob: and data: URLs included)."""
    answer = driver.execute_async_script(_FETCH_JS, url)
    if answer.startswith("ERROR "):
        raise AssertionError(f"the page could not fetch {url[:60]}: {answer}")
    return base64.b64decode(answer)


def full_page_screenshot(driver: Any, path: Path) -> Path:
    """The whole page, not just the window, as PNG (Chromium's DevTools protocol)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
