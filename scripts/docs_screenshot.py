"""The README's picture of ``mobilegan serve``, made with synthetic images only.

    python scripts/docs_screenshot.py [--out docs/app_screenshot.png]

The page is driven in headless Chromium (as in tests/test_app_browser.py) with two
procedurally drawn lesions (labelled SYNTHETIC in the image) and a corrupt file, so that the
repository never holds a picture of a real ISIC image. Uses the shipped weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser.chromium import chromium_driver, full_page_screenshot  # noqa: E402
from browser.live_server import live_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "app_screenshot.png")
    args = parser.parse_args()
    from selenium.webdriver.support.ui import WebDriverWait

    from mobilegan.app.server import create_app
    from mobilegan.data.synthetic import draw_lesion
    from mobilegan.inference.segmenter import Segmenter

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for seed in (3, 11):
            image, _ = draw_lesion(seed=seed)
            files.append(Path(tmp) / f"synthetic_lesion_{seed}.png")
            Image.fromarray(image).save(files[-1])
        corrupt = Path(tmp) / "corrupt_scan.jpg"
        corrupt.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(3000))
        driver = chromium_driver()
        try:
            with live_server(create_app(Segmenter.from_pretrained(samples=8, seed=0))) as url:
                driver.get(url + "/")
                driver.find_element("id", "file-input").send_keys("\n".join(map(str, [*files, corrupt])))

                def finished(d):
                    states = [c.get_attribute("data-state") for c in d.find_elements("css selector", "#results .card")]
                    return len(states) == 3 and "pending" not in states

                WebDriverWait(driver, 120, poll_frequency=0.2).until(finished)
                full_page_screenshot(driver, args.out)
        finally:
            driver.quit()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
