"""The web page end to end in headless Chromium: drop real ISIC images, see the contour and
the area, download the mask at the image's resolution, get a message for a corrupt file.

Saves ``artifacts/app_screenshot.png`` (git-ignored: it shows ISIC images, which the
repository never holds; the README's picture comes from scripts/docs_screenshot.py with
synthetic images). The model is ``$MOBILEGAN_WEIGHTS`` or the shipped weights when present,
else an untrained network saved by the test.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/browser/ helpers
from browser.chromium import chromium_driver, fetch_in_page, full_page_screenshot  # noqa: E402
from browser.live_server import live_server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: Two ISIC 2017 test images that are NOT in the ISIC 2018 training set, so that a
#: screenshot made with the shipped weights shows images the model has not seen.
IMAGES = ("ISIC_0012152.jpg", "ISIC_0012199.jpg")
TIMEOUT = 90

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _weights(tmp_path: Path) -> Path:
    from mobilegan.inference.segmenter import shipped_weights

    shipped = shipped_weights()
    if shipped.is_file():
        return shipped
    from tests.conftest import untrained_weights

    return untrained_weights(tmp_path)


def _wait_cards(driver, count: int) -> list:
    from selenium.webdriver.support.ui import WebDriverWait

    def finished(d):
        cards = d.find_elements("css selector", "#results .card")
        states = [c.get_attribute("data-state") for c in cards]
        return cards if len(cards) == count and "pending" not in states else False

    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.2).until(finished)


def test_page_segments_real_images_and_reports_a_corrupt_file(isic2017, tmp_path):
    from mobilegan.app.server import create_app
    from mobilegan.inference.segmenter import Segmenter
    from selenium.webdriver.support.ui import WebDriverWait

    images = [(isic2017 / "ISIC-2017_Test_v2_Data" / name).resolve() for name in IMAGES]
    corrupt = tmp_path / "=corrupt_scan.jpg"  # named like a formula: stays text in the CSV
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(3000))
    segmenter = Segmenter(_weights(tmp_path), samples=4, seed=0, threads=1)

    driver = chromium_driver()
    try:
        with live_server(create_app(segmenter)) as url:
            driver.get(url + "/")
            WebDriverWait(driver, 20).until(
                lambda d: "backend" in d.find_element("id", "model-info").text)
            assert "not a medical device" in driver.find_element("css selector", ".notice").text
            file_input = driver.find_element("id", "file-input")

            # One real image: contour, area, and a mask download at the image's resolution.
            file_input.send_keys(str(images[0]))
            card = _wait_cards(driver, 1)[0]
            assert card.get_attribute("data-state") == "done", card.text
            overlay = card.find_element("css selector", "img.overlay")
            assert driver.execute_script("return arguments[0].naturalWidth", overlay) == 256
            area = card.find_element("css selector", ".area").text
            assert area.endswith(" %)") and " px (" in area
            assert card.find_element("css selector", "img.uncertainty").is_displayed()
            link = card.find_element("css selector", "a.download-mask")
            assert link.get_attribute("download") == "ISIC_0012152_segmentation.png"
            mask = Image.open(io.BytesIO(fetch_in_page(driver, link.get_attribute("href"))))
            with Image.open(images[0]) as original:
                assert mask.size == original.size
            assert mask.mode == "L" and set(mask.getdata()) <= {0, 255}

            # A second real image and a corrupt file at once: a gallery, a message, a CSV.
            file_input.send_keys(f"{images[1]}\n{corrupt}")
            cards = _wait_cards(driver, 3)
            assert [c.get_attribute("data-state") for c in cards] == ["done", "done", "error"]
            message = cards[2].find_element("css selector", ".error-message").text
            assert message.startswith("=corrupt_scan.jpg ")
            assert any(word in message for word in ("damaged", "corrupt", "not an image"))
            assert "Traceback" not in driver.page_source
            assert "gallery" in driver.find_element("id", "results").get_attribute("class")
            csv_link = driver.find_element("id", "csv")
            rows = list(csv.DictReader(io.StringIO(
                fetch_in_page(driver, csv_link.get_attribute("href")).decode())))
            assert [r["status"] for r in rows] == ["ok", "ok", "error"]
            assert rows[0]["id"] == "ISIC_0012152" and rows[0]["width"] == "256"
            assert rows[2]["filename"] == "'=corrupt_scan.jpg"

            # The first image again: its downloads get names of their own (one request
            # per image, so the page, not the server, tells the two apart).
            file_input.send_keys(str(images[0]))
            again = _wait_cards(driver, 4)[3]
            assert again.find_element("css selector", "a.download-mask").get_attribute(
                "download") == "ISIC_0012152_2_segmentation.png"
            rows = list(csv.DictReader(io.StringIO(
                fetch_in_page(driver, csv_link.get_attribute("href")).decode())))
            assert [r["id"] for r in rows if r["status"] == "ok"] == [
                "ISIC_0012152", "ISIC_0012199", "ISIC_0012152_2"]

            # Ids at segment's length limit: the page suffixes them as segment does.
            from mobilegan.inference.batch import ID_CHARS, UniqueIds, safe_id

            for long_id in ("a" * ID_CHARS, "\u00e9" * 100, "b" * (ID_CHARS - 3) + "._c"):
                assert safe_id(long_id) == long_id  # as the server sends them
                segment = UniqueIds()
                assert driver.execute_script(
                    "return [uniqueId(arguments[0]), uniqueId(arguments[0]), uniqueId(arguments[0])]",
                    long_id) == [segment(long_id) for _ in range(3)], long_id
            shot = full_page_screenshot(driver, REPO / "artifacts" / "app_screenshot.png")
    finally:
        driver.quit()
    with Image.open(shot) as picture:
        assert picture.width >= 1000
