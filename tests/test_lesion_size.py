"""benchmarks/lesion_size.py: scores already computed, binned by the true lesion's area."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lesion_size():
    spec = importlib.util.spec_from_file_location("lesion_size", REPO / "benchmarks" / "lesion_size.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bands_hold_their_upper_edge_and_empty_bands_stay_empty(lesion_size) -> None:
    edges = (0.0, 5.0, 50.0, 100.0)
    assert [lesion_size.band_of(a, edges) for a in (0.0, 5.0, 5.1, 50.0, 99.0, 100.0)] == [0, 0, 1, 1, 2, 2]
    rows = [{"id": "a", "JAC": 0.5, "SEN": 0.6}, {"id": "b", "JAC": 0.7, "SEN": 1.0},
            {"id": "c", "JAC": 0.9, "SEN": 0.8}]
    bands = lesion_size.by_band(rows, {"a": 2.0, "b": 4.0, "c": 80.0}, edges)
    assert [b["n"] for b in bands] == [2, 0, 1]
    assert bands[0]["JAC"] == pytest.approx(60.0) and bands[0]["SEN"] == pytest.approx(80.0)
    assert np.isnan(bands[1]["JAC"]) and bands[2]["JAC"] == pytest.approx(90.0)


def test_script_reads_the_masks_of_the_scored_ids(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True), (data / "masks").mkdir()
    sizes = {"ISIC_0000001": 2, "ISIC_0000002": 30, "ISIC_0000003": 60}  # lesion side, of 64
    lines = ["id,ACC,DIC,JAC,JAC_th,SEN,SPE,width,height,seen_in"]
    for k, (name, side) in enumerate(sizes.items()):
        Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(data / "images" / f"{name}.jpg")
        mask = np.zeros((64, 64), np.uint8)
        mask[:side, :side] = 255
        Image.fromarray(mask).save(data / "masks" / f"{name}_segmentation.png")
        lines.append(f"{name},0.9,0.8,{0.5 + 0.1 * k:.1f},0.0,0.9,0.9,64,64,")
    (tmp_path / "per_image.csv").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "lesion_size.py"),
                           str(tmp_path / "per_image.csv"), "--data", str(data), "--names", "drawn",
                           "--out", str(tmp_path / "table.md")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "table.md").read_text()
    # 0.1% of the image, 22% and 88%: one image each in the first, 20-40 and 70-100 bands.
    assert "| 0 to 5 | 1 | 50.0 | 90.0 |" in table
    assert "| 20 to 40 | 1 | 60.0 | 90.0 |" in table and "| 70 to 100 | 1 | 70.0 | 90.0 |" in table
    assert "| 5 to 10 | 0 |  |  |" in table
    # An evaluation whose ids the data folder lacks is refused, not scored as empty.
    (tmp_path / "per_image.csv").write_text("\n".join(lines + [lines[1].replace("0000001", "0000009")]) + "\n")
    refused = subprocess.run([sys.executable, str(REPO / "benchmarks" / "lesion_size.py"),
                              str(tmp_path / "per_image.csv"), "--data", str(data)],
                             capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode != 0 and "no mask under" in refused.stderr
