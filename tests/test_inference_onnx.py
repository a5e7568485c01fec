"""The ONNX backend: same probabilities as torch, and it runs with torch absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mobilegan.config import ModelConfig
from mobilegan.inference.segmenter import Segmenter
from mobilegan.inference.torch_backend import export_weights_to_onnx
from mobilegan.models.io import save_model
from mobilegan.models.registry import build_model
from tests.conftest import untrained_weights

SIZE = 64


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=1)


@pytest.fixture(scope="module")
def onnx_file(weights: Path) -> Path:
    return export_weights_to_onnx(weights, weights.with_suffix(".onnx"))


@pytest.fixture(scope="module")
def real_image(isic2017: Path) -> Path:
    return sorted((isic2017 / "ISIC-2017_Test_v2_Data").glob("*.jpg"))[0]


def run_without_torch(body: str) -> subprocess.CompletedProcess:
    """Run ``body`` in a fresh interpreter where any ``import torch`` fails, as on an
    install without the 'torch' extra; it must not import torch by another way either."""
    script = ("import sys\n"
              "sys.modules['torch'] = None  # any `import torch` now raises ImportError\n"
              + textwrap.dedent(body) + "\nassert sys.modules['torch'] is None\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_onnx_matches_torch_on_a_real_image(weights: Path, onnx_file: Path,
                                            real_image: Path) -> None:
    torch_result = Segmenter(weights, image_size=SIZE, tta=True).predict(real_image)
    onnx_result = Segmenter(onnx_file, backend="onnx", image_size=SIZE, tta=True).predict(real_image)
    assert np.abs(onnx_result.probability - torch_result.probability).max() < 1e-4
    assert onnx_result.mask.shape == torch_result.mask.shape


def test_onnx_backend_exports_safetensors_itself(tmp_path: Path) -> None:
    """Given .safetensors, the ONNX backend exports on the fly (a tiny U-Net: fast)."""
    cfg = ModelConfig(name="unet", unet_base=4)
    weights = save_model(build_model(cfg), cfg, tmp_path / "unet.safetensors")
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    exported = Segmenter(weights, backend="onnx", image_size=SIZE).predict_batch([image, image])
    eager = Segmenter(weights, image_size=SIZE).predict(image)
    assert np.abs(exported[1].probability - eager.probability).max() < 1e-4
    assert not list(tmp_path.glob("*.onnx"))  # the temporary export is cleaned up


def test_onnx_backend_runs_without_torch(onnx_file: Path, real_image: Path,
                                         weights: Path) -> None:
    done = run_without_torch(f"""
        import json
        from mobilegan.inference.segmenter import Segmenter
        result = Segmenter({str(onnx_file)!r}, backend="onnx", image_size={SIZE}).predict(
            {str(real_image)!r})
        print(json.dumps({{"shape": list(result.mask.shape),
                           "mean": float(result.probability.mean())}}))
    """)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    expected = Segmenter(weights, image_size=SIZE).predict(real_image)
    assert answer["shape"] == list(expected.mask.shape)
    assert answer["mean"] == pytest.approx(float(expected.probability.mean()), abs=1e-5)


def test_the_command_line_runs_int8_without_torch_and_says_when_torch_is_needed(
        real_image: Path, tmp_path: Path) -> None:
    """On an onnxruntime-only install: the shipped int8 file segments; the float `onnx`
    backend on the shipped .safetensors (exported on the fly, with torch) says what to do."""
    done = run_without_torch(f"""
        from mobilegan.cli.main import main
        int8 = main(["segment", {str(real_image)!r}, "--out", {str(tmp_path / "int8")!r},
                     "--backend", "int8", "--quiet"])
        onnx = main(["segment", {str(real_image)!r}, "--out", {str(tmp_path / "onnx")!r},
                     "--backend", "onnx", "--quiet"])
        print(int8, onnx)
    """)
    assert done.stdout.split()[-2:] == ["0", "2"]
    assert "needs torch" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "int8" / f"{real_image.stem}_segmentation.png").is_file()
    assert not (tmp_path / "onnx" / "results.csv").exists()


def test_without_the_torch_extra_demo_runs_int8_and_other_commands_name_the_extra(
        tmp_path: Path) -> None:
    """The package's core is the ONNX path: `demo` falls back to the shipped int8 file, and
    a command that needs PyTorch says which extra to install, in one line."""
    done = run_without_torch(f"""
        import os
        os.environ.pop("MOBILEGAN_WEIGHTS", None)
        from mobilegan.cli.main import main
        demo = main(["demo", "--out", {str(tmp_path / "demo")!r}])
        export = main(["export", "--out", {str(tmp_path / "m.onnx")!r}])
        print(demo, export)
    """)
    assert done.stdout.split()[-2:] == ["0", "2"]
    assert "torch not installed: running the shipped int8 model" in done.stdout
    assert "Dice against the drawn mask" in done.stdout
    assert "pip install -e '.[torch]'" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "demo" / "synthetic_lesion_segmentation.png").is_file()


def test_the_api_says_what_to_install_when_torch_is_missing() -> None:
    """The README's snippet on an install without the 'torch' extra: one message naming the
    extra and the int8 backend, not a traceback from several modules down."""
    done = run_without_torch("""
        import mobilegan
        for call in (lambda: mobilegan.Segmenter.from_pretrained(samples=8),
                     lambda: mobilegan.evaluate, lambda: mobilegan.train):
            try:
                call()
            except ModuleNotFoundError as error:
                print(error.name, "|", error)
        print(mobilegan.Segmenter.from_pretrained(backend="int8").backend.name)
    """)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("torch | ") for line in lines[:3])
    assert "backend='torch' (the default) needs PyTorch" in lines[0]
    assert "mobilegan.evaluate needs PyTorch" in lines[1]
    assert all("-e '.[torch]'" in line and "backend='int8'" in line for line in lines[:3])
    assert lines[3] == "int8"  # and what the message names runs
