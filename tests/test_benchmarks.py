"""The speed benchmarks run end to end (tiny settings), from any folder: on the GPU machine
train_speed.py once failed because its config pointed at ../shared/data, which it never reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_model_cost_counts_the_shipped_network_beside_the_unet(tmp_path: Path) -> None:
    out = _run("model_cost.py", "--size", "32", "--repeats", "1", "--threads", "1",
               "--only", "stride 4", cwd=tmp_path)
    header, *_, shipped, unet = out.strip().splitlines()
    assert "1 CPU threads (" in header and "32x32" in header
    assert shipped.split()[:6] == ["mobilegan", "shipped", "(stride", "4)", "2.322M", "0.075"]
    assert unet.split()[:3] == ["unet", "31.038M", "1.000"]


@pytest.mark.slow
def test_train_speed_needs_no_data_folder(tmp_path: Path) -> None:
    out = _run("train_speed.py", "--steps", "1", "--warmup", "0", "--batches", "2",
               "--size", "64", "--models", "MobileGAN (PAM kv/4, shipped)", "U-Net", cwd=tmp_path)
    assert "| MobileGAN (PAM kv/4, shipped) | 2 |" in out and "| 1.00x |" in out
    assert "| U-Net | 2 |" in out


@pytest.mark.slow
def test_infer_speed_puts_the_int8_model_under_its_float_twin(tmp_path: Path) -> None:
    from mobilegan.inference.segmenter import shipped_int8

    out = _run("infer_speed.py", "--iters", "5", "--warmup", "5", "--size", "64",
               "--int8", str(shipped_int8()), cwd=tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("| MobileGAN") or
            line.startswith("| U-Net")]
    assert "| ONNX Runtime |" in rows[0] and "| ONNX Runtime int8 |" in rows[1]
    assert sum("ONNX Runtime" in row for row in rows) == 4


def test_infer_speed_times_every_network(tmp_path: Path) -> None:
    out = _run("infer_speed.py", "--no-onnx", "--iters", "5", "--warmup", "5", "--size", "64",
               "--channels-last", cwd=tmp_path)
    assert out.count("PyTorch eager fp32 |") == 3 and "1.00x" in out
    assert out.count("PyTorch eager fp32 channels-last |") == 3  # and checked equal first


def test_infer_speed_times_only_the_networks_named(tmp_path: Path) -> None:
    out = _run("infer_speed.py", "--no-onnx", "--iters", "2", "--warmup", "1", "--size", "32",
               "--models", "u-net", cwd=tmp_path)
    assert out.count("| U-Net") == 1 and "| MobileGAN" not in out


@pytest.mark.slow
def test_infer_speed_times_a_frozen_compile_beside_the_plain_one(tmp_path: Path) -> None:
    """--freeze compiles a second time with inductor's freezing: a row of its own, compiled
    apart (two compiles with equal settings would share one cached graph)."""
    out = _run("infer_speed.py", "--no-onnx", "--iters", "2", "--warmup", "1", "--size", "32",
               "--models", "u-net", "--compile", "--freeze", cwd=tmp_path)
    assert out.count("| U-Net") == 3
    assert "PyTorch compiled (default) fp32 |" in out and "PyTorch compiled (default, frozen) fp32 |" in out
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    refused = subprocess.run([sys.executable, str(REPO / "benchmarks" / "infer_speed.py"), "--freeze"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "give --compile too" in refused.stderr


def test_stage_profile_accounts_for_the_whole_forward(tmp_path: Path) -> None:
    """Every top-level stage has a row, the stages and what runs between them add up to the
    whole forward, and every attention module of the shipped network is counted."""
    from mobilegan.inference.segmenter import shipped_weights
    from mobilegan.models.attention import ChannelAttention, PositionAttention
    from mobilegan.models.io import load_model

    out = _run("stage_profile.py", "--size", "32", "--iters", "2", "--warmup", "1",
               "--threads", "1", "--kernels", "3", cwd=tmp_path)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line}
    generator = load_model(shipped_weights())[0]
    assert len([name for name in rows if name.startswith("encoder.")]) == len(generator.encoder)
    assert {"stem (multi-scale input)", "decoder stream 0", "decoder stream 1", "head"} <= set(rows)
    shares = [float(cells[1].rstrip("% |")) for name, cells in rows.items()
              if not name.startswith(("**whole", "of which", "stage"))]
    assert abs(sum(shares) - 100) < 0.5
    cams = sum(isinstance(m, ChannelAttention) for m in generator.modules())
    pams = sum(isinstance(m, PositionAttention) for m in generator.modules())
    assert f"of which CAM, {cams} modules" in rows and f"of which PAM, {pams} modules" in rows
    assert "aten::" in out  # the kernel table


@pytest.mark.slow
def test_stage_profile_lists_the_compiled_generators_kernels_too(tmp_path: Path) -> None:
    # 40 rows: all of the compiled graph's few kinds of calls, whatever their order (with 3,
    # a slower CPU's order left the graph's own row out, 2026-11-30)
    out = _run("stage_profile.py", "--size", "32", "--iters", "1", "--warmup", "1",
               "--threads", "1", "--kernels", "40", "--compiled", cwd=tmp_path)
    eager, compiled = out.split("The same generator through torch.compile (default mode)")
    assert "aten::" in eager and "| **whole forward**" in eager
    assert "CompiledFxGraph" in compiled and "CompiledFxGraph" not in eager  # inductor's graph


@pytest.mark.slow
def test_bf16_attention_compares_three_precisions_on_real_images(tmp_path: Path,
                                                                 isic2018: Path) -> None:
    from mobilegan.inference.segmenter import shipped_weights

    out = _run("bf16_attention.py", str(shipped_weights()), str(isic2018), "--limit", "4",
               "--device", "cpu", cwd=tmp_path)
    assert "(heldout, 4 images)" in out
    for row in ("| float32 | ", "| bf16, attention float32 | ", "| bf16, attention bf16 | "):
        assert row in out
    assert "| float32 | " in out and "+0.00 +- 0.00 | 0.000 |" in out  # float32 vs itself


@pytest.mark.slow
def test_input_size_scores_and_times_both_files_at_each_size(tmp_path: Path, isic2017: Path,
                                                              isic2018: Path) -> None:
    import json

    out = _run("input_size.py", "--sizes", "64", "96", "--limit", "2", "--iters", "2",
               "--warmup", "1", "--heldout", str(isic2018), "--test", str(isic2017),
               "--out", str(tmp_path / "out"), cwd=tmp_path)
    rows = [line for line in out.splitlines() if line.startswith(("| 64x64 |", "| 96x96 |"))]
    assert len(rows) == 2 and "| int8 time vs 64 |" in out and "| 1.00x |" in rows[0]
    assert (tmp_path / "out" / "input_size.png").stat().st_size > 0
    assert "| 96x96 |" in (tmp_path / "out" / "README.md").read_text()
    summary = json.loads((tmp_path / "out" / f"{isic2017.resolve().name}_test_int8_96" /
                          "summary.json").read_text())
    assert summary["image_size"] == 96 and summary["n"] == 2
    assert summary["runtime"] == "onnxruntime int8" and summary["exposure_normalized"]


def test_input_size_refuses_a_size_the_network_cannot_take(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "input_size.py"),
                           "--sizes", "128", "100", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "multiples of 8: [100]" in done.stderr
    assert not (tmp_path / "out").exists()


def test_head_init_benchmark_shows_the_tied_head_starting_even(tmp_path: Path, data_root: Path) -> None:
    """One training step with each head initialisation on real images: the tied head's four
    sub-pixel positions still predict alike, PyTorch's default ones do not."""
    table = tmp_path / "head_init.md"
    out = _run("head_init.py", "--steps", "1", "--limit", "24", "--val-limit", "32", "--threads", "1",
               "--data", str(data_root), "--out", str(table), cwd=tmp_path)
    assert out.endswith(table.read_text())  # after the trainer's own epoch lines
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:6]]
            for line in out.splitlines() if line.startswith("| tied") or line.startswith("| pytorch")}
    assert set(rows) == {"tied", "pytorch"}
    assert max(rows["tied"]) - min(rows["tied"]) < 0.1
    assert max(rows["pytorch"]) - min(rows["pytorch"]) > 0.1


def test_calibrate_confidence_takes_a_weights_file_and_its_splits(tmp_path: Path,
                                                                   isic2018: Path) -> None:
    """The shipped weights carry their validation ids in <name>.splits.json: the benchmark
    scores those ids only; weights with no splits beside them are refused, not guessed."""
    import json

    from mobilegan.inference.segmenter import PACKAGED_WEIGHTS
    from tests.conftest import untrained_weights

    _run("calibrate_confidence.py", str(PACKAGED_WEIGHTS), str(isic2018), "--limit", "4",
         "--json", str(tmp_path / "c.json"), cwd=tmp_path)
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["n"] == 4 and report["images"] == "the run's validation ids"
    loose = untrained_weights(tmp_path / "loose")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    refused = subprocess.run([sys.executable, str(REPO / "benchmarks" / "calibrate_confidence.py"),
                              str(loose), str(isic2018)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "no splits.json" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_serve_speed_times_the_page_over_http(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the web extras: pip install 'mobilegan[app]'")
    out = _run("serve_speed.py", "--backend", "int8", "--requests", "2", "--warmup", "0",
               "--sizes", "64x48", "300x200", cwd=tmp_path)
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| 64x48 |")
            or line.startswith("| 300x200 |")]
    assert len(rows) == 2 and "backend int8, 1 sample(s)" in out
    for row in rows:
        p50, p90, inside = float(row[3]), float(row[4]), float(row[5])
        assert 0 < inside <= p50 <= p90  # the server's own clock sees part of the round trip


def test_large_images_compares_the_shipped_settings_with_them_undone(tmp_path: Path,
                                                                     isic2018: Path) -> None:
    out = _run("large_images.py", "--images", "1", "--size", "320x240", "--threads", "1",
               "--data", str(isic2018), cwd=tmp_path)
    assert "1 images of 320x240" in out and "batches of at most 32 megapixels" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| shipped", "| overlay at zlib level 6", "| batches by count only", "| both undone"]
    assert all(row.rstrip().endswith("| same |") for row in rows)
    assert not list(tmp_path.iterdir())  # the upscaled images were temporary


def test_infer_speed_times_the_shipped_network_with_bf16_attention_beside_it() -> None:
    """Under bf16 on a GPU, a twin of the shipped network with its attention maths in bf16
    is timed right under it (an inference speed option); the shipped one keeps float32."""
    import importlib.util

    from mobilegan.models.attention import ChannelAttention, PositionAttention

    spec = importlib.util.spec_from_file_location("infer_speed", REPO / "benchmarks" / "infer_speed.py")
    infer_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer_speed)

    def float32_maths(net: torch.nn.Module) -> set[bool]:
        return {m.float32_maths for m in net.modules()
                if isinstance(m, (ChannelAttention, PositionAttention))}

    nets = infer_speed.networks(None, ["shipped", "u-net"], bf16_attention=True)
    assert list(nets) == ["MobileGAN shipped", "MobileGAN shipped, bf16 attention", "U-Net"]
    shipped, twin = nets["MobileGAN shipped"], nets["MobileGAN shipped, bf16 attention"]
    assert float32_maths(shipped) == {True} and float32_maths(twin) == {False}
    assert all(torch.equal(a, b) for a, b in zip(shipped.state_dict().values(), twin.state_dict().values()))
    assert "MobileGAN shipped, bf16 attention" not in infer_speed.networks(None, ["shipped"])


def test_infer_speed_freeze_folds_the_weights_into_the_compiled_graph() -> None:
    """--freeze must freeze: on 2026-11-30 it passed inductor's option alone, which dynamo
    never reads, and the "frozen" rows timed a second plain compile. A conv + batch norm:
    frozen, the weights are constants and the batch norm is folded away."""
    import importlib.util

    from torch._inductor.utils import run_and_get_code

    spec = importlib.util.spec_from_file_location("infer_speed", REPO / "benchmarks" / "infer_speed.py")
    infer_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer_speed)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
    codes = {}
    for freeze in (False, True):
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)).eval()
        _, code = run_and_get_code(lambda: infer_speed.torch_runner(
            net, x, "cpu", False, compile_mode="default", freeze=freeze))
        codes[freeze] = "\n".join(code)
    assert "_frozen_param" not in codes[False] and "batch_norm" in codes[False]
    assert "_frozen_param" in codes[True] and "batch_norm" not in codes[True]


def test_infer_speed_frozen_compile_of_a_network_already_compiled_stays_frozen() -> None:
    """main()'s order: one network compiled plain, then frozen. The frozen compile must be a
    graph of its own (equal settings would share the plain one) and stay frozen on the
    timed calls after the compiling ones: a weight changed afterwards moves the plain
    output and not the frozen one."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("infer_speed", REPO / "benchmarks" / "infer_speed.py")
    infer_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer_speed)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)).eval()
    x = torch.rand(2, 3, 16, 16)
    plain = infer_speed._compiled(net, "default", freeze=False)
    frozen = infer_speed._compiled(net, "default", freeze=True)
    with torch.inference_mode():
        plain(x)
        with infer_speed._freezing(True):  # as torch_runner compiles it
            frozen(x)
        before = plain(x), frozen(x)
    with torch.no_grad():
        net[1].bias += 1.0
    with torch.inference_mode():
        after = plain(x), frozen(x)
    assert torch.allclose(after[0], before[0] + 1.0, atol=1e-5)  # plain reads the weights
    assert torch.equal(after[1], before[1])  # frozen holds them as constants
