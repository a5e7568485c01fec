"""User mistakes on the command line end in one line naming the problem, exit code 2, no
stack trace, and nothing written or replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from mobilegan.cli.main import main
from mobilegan.data.synthetic import draw_lesion
from mobilegan.hardware import resolve_device
from tests.conftest import untrained_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=4)


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "lesion.jpg"
    Image.fromarray(draw_lesion((64, 64), seed=1)[0]).save(path)
    return path


def _fails_cleanly(args: list[str], capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mobilegan {args[0]}: error: "), err
    for text in expected:
        assert text in err, err
    return err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_a_gpu_device_on_a_cpu_machine_is_refused_before_any_work(
        weights: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    _fails_cleanly(["segment", str(image), "--out", str(tmp_path / "o"), "--weights",
                    str(weights), "--device", "cuda"], capsys, "no CUDA GPU", "--device cpu")
    assert not (tmp_path / "o").exists()


def test_an_unknown_device_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    assert resolve_device("cpu") == torch.device("cpu")


def test_out_below_a_file_names_the_path(weights: Path, image: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = image.read_bytes()
    _fails_cleanly(["segment", str(image), "--out", str(image / "masks"), "--weights",
                    str(weights)], capsys, "not a directory", str(image))
    assert image.read_bytes() == before


def test_broken_weights_files_are_named(weights: Path, image: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 64)
    shutil.copy(weights.with_suffix(".json"), corrupt.with_suffix(".json"))
    out = ["--out", str(tmp_path / "o")]
    _fails_cleanly(["segment", str(image), *out, "--weights", str(corrupt)], capsys,
                   "not a valid safetensors file")
    no_model = tmp_path / "no_model.safetensors"
    shutil.copy(weights, no_model)
    no_model.with_suffix(".json").write_text(json.dumps({"metadata": {}}))
    _fails_cleanly(["segment", str(image), *out, "--weights", str(no_model)], capsys,
                   'no "model" section')
    _fails_cleanly(["segment", str(image), *out, "--weights", str(image)], capsys,
                   "weights must be a .safetensors file")
    _fails_cleanly(["export", str(image), "--out", str(tmp_path / "x.onnx")], capsys,
                   "weights must be a .safetensors file")
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.onnx").exists()


def test_export_refuses_an_opset_it_cannot_write(weights: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(["export", str(weights), "--opset", "5", "--out", str(tmp_path / "m.onnx")],
                   capsys, "opset 5", "14 to 22")
    assert not (tmp_path / "m.onnx").exists()


def test_export_never_replaces_a_file_that_is_not_onnx(
        weights: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = image.read_bytes()
    _fails_cleanly(["export", str(weights), "--out", str(image)], capsys,
                   "expected a .onnx file name or a folder")
    assert image.read_bytes() == before
    folder = tmp_path / "exports"
    assert main(["export", str(weights), "--out", f"{folder}/"]) == 0  # a folder: file inside
    assert (folder / weights.with_suffix(".onnx").name).is_file()


def test_evaluate_of_the_shipped_weights_writes_to_the_working_folder(
        isic2017: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never into the installed package (read-only in a system-wide install)."""
    from mobilegan.inference.segmenter import PACKAGED_WEIGHTS

    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in PACKAGED_WEIGHTS.parent.iterdir())
    assert main(["evaluate", str(PACKAGED_WEIGHTS), str(isic2017), "--limit", "2",
                 "--no-progress"]) == 0
    assert (tmp_path / "eval" / "mobilegan_isic2017_test" / "summary.json").is_file()
    assert sorted(p.name for p in PACKAGED_WEIGHTS.parent.iterdir()) == before


@pytest.mark.parametrize("code, shown", [(30, True), (28, True), (5, False)])
def test_a_read_only_or_full_disk_is_one_line_other_os_errors_are_not_hidden(
        code: int, shown: bool, monkeypatch: pytest.MonkeyPatch, image: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """EROFS and ENOSPC are the machine's state, said in one line; EIO stays a traceback."""
    import errno

    import mobilegan.inference.batch as batch

    assert (errno.EROFS, errno.ENOSPC, errno.EIO) == (30, 28, 5)

    def fail(*args, **kwargs):
        raise OSError(code, "as the OS says it", str(image.parent / "out" / "results.csv"))

    monkeypatch.setattr(batch, "segment_files", fail)
    if not shown:
        with pytest.raises(OSError):
            main(["segment", str(image), "--out", str(image.parent / "out"), "--quiet"])
        return
    assert main(["segment", str(image), "--out", str(image.parent / "out"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith("error: as the os says it: "
                                                    f"{image.parent / 'out' / 'results.csv'}")


def test_the_debug_variable_shows_the_traceback_a_user_error_hides(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug that raises ValueError reads like bad input; MOBILEGAN_DEBUG shows where."""
    args = ["evaluate", str(tmp_path / "no_run"), str(tmp_path)]
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.setenv("MOBILEGAN_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(args)


def test_a_missing_package_of_the_torch_extra_is_named_with_its_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing: name the extra (and the int8 way only when PyTorch itself is missing).
    Installed but broken (torch._C): Python's own message, not a false 'not installed'."""
    import importlib.util

    from mobilegan.cli.main import describe_error

    real_find_spec = importlib.util.find_spec
    absent = {"onnxscript"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in absent else real_find_spec(name, *a))
    text = describe_error(ModuleNotFoundError("No module named 'onnxscript'", name="onnxscript"))
    assert "needs onnxscript (not installed)" in text and "'.[torch]'" in text
    assert "--backend int8" not in text  # torch is here: the int8 hint would mislead
    absent.add("torch")
    text = describe_error(ModuleNotFoundError("No module named 'torch'", name="torch"))
    assert "needs torch (not installed)" in text and "--backend int8" in text
    absent.discard("torch")
    broken = ModuleNotFoundError("No module named 'torch._C'", name="torch._C")
    assert describe_error(broken) == "No module named 'torch._C'"


def test_output_piped_into_head_ends_without_a_traceback() -> None:
    """`mobilegan model summary --shipped | head -3` printed a BrokenPipeError traceback.
    The pipe is made smaller than the output (16 KB here), as a long table meets head."""
    import fcntl
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    read_end, write_end = os.pipe()
    fcntl.fcntl(read_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    proc = subprocess.Popen([sys.executable, "-m", "mobilegan.cli.main", "model", "summary",
                             "--all-layers"], stdout=write_end, stderr=subprocess.PIPE, env=env)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read(100)  # the first lines, then the reader goes away as head does
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()[-2000:]
    assert proc.returncode == 141
