"""ONNX export: every network matches PyTorch in onnxruntime at any batch and size,
and the file runs without torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from mobilegan.cli.main import main
from mobilegan.config import ModelConfig
from mobilegan.inference.export import check_onnx_parity, export_onnx, read_onnx_metadata
from mobilegan.models.io import save_model
from mobilegan.models.registry import build_model

MODELS = {
    "mobilegan": ModelConfig(),
    "pam_kv_stride_2": ModelConfig(pam_kv_stride=2),
    "no_attention": ModelConfig(attention=False),
    "single_scale": ModelConfig(multiscale=False),
    "unet": ModelConfig(name="unet", unet_base=8),  # the graph of base 64, 64x fewer weights
}
#: Exported at 64x64, checked at another batch and a non-square size.
SIZES = [(1, 64, 64), (2, 96, 128)]
TOLERANCE = 1e-4


def _trained_like(cfg: ModelConfig) -> torch.nn.Module:
    """Non-zero attention gammas and BN statistics, so that every path shows in the output."""
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("gamma"):
                tensor.fill_(0.3)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_matches_torch_for_every_model(name: str, tmp_path: Path) -> None:
    model = _trained_like(MODELS[name])
    path = export_onnx(model, tmp_path / f"{name}.onnx", example_size=(64, 64))
    assert check_onnx_parity(model, path, sizes=SIZES) < TOLERANCE
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["image"]
    assert [o.name for o in graph.output] == ["logits"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == 3
    assert all(d.dim_param and not d.dim_value for i, d in enumerate(dims) if i != 1)
    assert {n.domain for n in graph.node} <= {"", "ai.onnx"}  # standard ops only
    assert read_onnx_metadata(path)["mobilegan.exporter"] in ("torchscript", "dynamo")


def test_export_at_128_runs_at_192x256(tmp_path: Path) -> None:
    # Stride 2: the full PAM at 96x128 is a 12288^2 matrix per image in ORT (about 15 s here).
    model = _trained_like(MODELS["pam_kv_stride_2"])
    path = export_onnx(model, tmp_path / "m.onnx")  # example input 2x3x128x128
    assert check_onnx_parity(model, path, sizes=[(1, 192, 256)]) < TOLERANCE


def test_export_turns_the_noise_off_and_restores_the_model(tmp_path: Path) -> None:
    model = _trained_like(MODELS["pam_kv_stride_2"]).train().set_sampling(True)
    path = export_onnx(model, tmp_path / "m.onnx", example_size=(64, 64),
                       exporter="torchscript", metadata={"note": "test"})
    assert model.training
    assert all(m.sampling for m in model.modules() if hasattr(m, "sampling"))
    assert read_onnx_metadata(path) == {"mobilegan.exporter": "torchscript", "note": "test"}
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not {"Dropout", "RandomUniformLike", "RandomNormalLike", "Bernoulli"} & ops
    model.eval().set_sampling(False)
    assert check_onnx_parity(model, path, sizes=[(1, 64, 64)]) < TOLERANCE


def test_exported_graph_runs_without_torch(tmp_path: Path) -> None:
    model = _trained_like(MODELS["pam_kv_stride_2"])
    path = export_onnx(model, tmp_path / "m.onnx", example_size=(64, 64))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 64, 96)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        import numpy as np, onnxruntime as ort
        s = ort.InferenceSession({str(path)!r}, providers=["CPUExecutionProvider"])
        out = s.run(["logits"], {{"image": np.load({str(tmp_path / 'x.npy')!r})}})[0]
        np.save({str(tmp_path / 'y.npy')!r}, out)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).numpy()
    assert np.abs(np.load(tmp_path / "y.npy") - expected).max() < TOLERANCE


def test_unknown_exporter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exporter"):
        export_onnx(build_model(MODELS["unet"]), tmp_path / "m.onnx", exporter="tflite")


@pytest.mark.slow
def test_dynamo_exporter_matches_torch(tmp_path: Path) -> None:
    """The torch.export path (25-40 s for the generator on 2 CPU cores)."""
    model = _trained_like(ModelConfig())
    path = export_onnx(model, tmp_path / "m.onnx", exporter="dynamo", example_size=(64, 64))
    assert read_onnx_metadata(path)["mobilegan.exporter"] == "dynamo"
    assert check_onnx_parity(model, path, sizes=SIZES) < TOLERANCE


def test_cli_export_with_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ModelConfig(name="unet", unet_base=4)
    weights = save_model(_trained_like(cfg), cfg, tmp_path / "unet.safetensors")
    out = tmp_path / "out" / "unet.onnx"
    assert main(["export", str(weights), "--format", "onnx", "--out", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and "max |diff|" in text and "OK" in text
    meta = read_onnx_metadata(out)
    assert '"unet_base": 4' in meta["mobilegan.model"] and meta["mobilegan.source"] == weights.name


def test_cli_export_without_weights_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MOBILEGAN_WEIGHTS", str(tmp_path / "absent.safetensors"))
    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 2
    assert "no WEIGHTS given" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.onnx")) and os.listdir(tmp_path) == []


@pytest.mark.parametrize("earlier", [False, True])
def test_a_file_that_fails_its_check_is_set_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  earlier: bool) -> None:
    """A pipeline that looks for --out must not find a file that failed its check, and a
    good file already at that name survives it (the file is written as .unchecked.onnx and
    takes its name only once it passes)."""
    import mobilegan.inference.export as export

    cfg = ModelConfig(name="unet", unet_base=4)
    weights = save_model(_trained_like(cfg), cfg, tmp_path / "unet.safetensors")
    monkeypatch.setattr(export, "check_onnx_parity", lambda model, path: 0.5)
    out = tmp_path / "unet.onnx"
    if earlier:
        out.write_bytes(b"an earlier, checked file")
    assert main(["export", str(weights), "--out", str(out), "--check"]) == 1
    assert (tmp_path / "unet.check-failed.onnx").is_file()
    assert (out.read_bytes() == b"an earlier, checked file") if earlier else not out.exists()
    assert not (tmp_path / "unet.unchecked.onnx").exists()
    assert "FAILED" in capsys.readouterr().out
    # A check that breaks (or Ctrl+C) leaves no unchecked file behind, and nothing at --out
    def broken(model, path):
        raise RuntimeError("broke")

    monkeypatch.setattr(export, "check_onnx_parity", broken)
    (tmp_path / "unet.check-failed.onnx").unlink()
    with pytest.raises(RuntimeError, match="broke"):
        main(["export", str(weights), "--out", str(out), "--check"])
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == (["unet.onnx"] if earlier else [])


@pytest.mark.parametrize("option", [["--tolerance", "0"], ["--tolerance", "-1"],
                                    ["--tolerance", "nan"], ["--min-agreement", "1.5"],
                                    ["--min-agreement", "nan"], ["--min-agreement", "0"]])
def test_check_limits_that_cannot_be_met_or_always_are_refused(
        option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--out", str(tmp_path / "m.onnx"), "--check", *option]) == 2
    assert option[0] in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_a_failed_export_leaves_the_file_already_there(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --check the file was written straight onto --out: an export that broke on
    the way left half a file in place of a good one. It now takes the name when whole."""
    import mobilegan.inference.export as export

    cfg = ModelConfig(name="unet", unet_base=4)
    weights = save_model(_trained_like(cfg), cfg, tmp_path / "unet.safetensors")
    out = tmp_path / "unet.onnx"
    out.write_bytes(b"an earlier, good file")

    def half_written(model, target, **kw):
        Path(target).write_bytes(b"half a file")
        raise RuntimeError("the exporter broke")

    monkeypatch.setattr(export, "export_onnx", half_written)
    with pytest.raises(RuntimeError, match="the exporter broke"):
        main(["export", str(weights), "--out", str(out)])
    assert out.read_bytes() == b"an earlier, good file"
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["unet.onnx"]
    monkeypatch.undo()
    assert main(["export", str(weights), "--out", str(out)]) == 0  # and a whole one replaces it
    assert out.read_bytes().startswith(b"\x08") and sorted(p.name for p in tmp_path.glob("*.onnx")) == ["unet.onnx"]


@pytest.mark.parametrize("tamper, expected", [
    # ``max(0.0, nan)`` is 0.0: an ONNX file whose logits were NaN passed the check.
    (lambda logits: logits.__setitem__((..., 0, 0), np.nan), float("inf")),
    # One wrong logit must show: a mean over the map would dilute a difference of 1.0 on one
    # pixel of 64x64 to ~2e-4 and come near the 1e-4 tolerance.
    (lambda logits: logits.__setitem__((..., 3, 5), logits[..., 3, 5] + 1.0), 1.0),
])
def test_parity_is_the_worst_pixel_and_infinite_for_nan(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        tamper, expected: float) -> None:
    import mobilegan.inference.export as export

    model = _trained_like(ModelConfig(name="unet", unet_base=4))
    path = export.export_onnx(model, tmp_path / "m.onnx")
    real = export.onnx_session

    class TamperedSession:
        def __init__(self, path):
            self.session = real(path)

        def run(self, names, feed):
            out = self.session.run(names, feed)
            tamper(out[0])
            return out

    assert export.check_onnx_parity(model, path) < 1e-3
    monkeypatch.setattr(export, "onnx_session", TamperedSession)
    assert export.check_onnx_parity(model, path) == pytest.approx(expected, abs=1e-3)
