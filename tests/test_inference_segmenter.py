"""The Python API: every input kind, original resolution, sampling, TTA, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.config import ModelConfig
from mobilegan.data.io import ImageReadError
from mobilegan.data.synthetic import draw_lesion
from mobilegan.inference.segmenter import WEIGHTS_ENV, Segmenter
from mobilegan.models.io import save_model
from mobilegan.models.registry import build_model
from tests.conftest import untrained_weights

SIZE = 64  # the smallest input the network takes comfortably: keeps the suite fast


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=0)


@pytest.fixture(scope="module")
def segmenter(weights: Path) -> Segmenter:
    return Segmenter(weights, image_size=SIZE)


@pytest.fixture(scope="module")
def lesion() -> np.ndarray:
    return draw_lesion((217, 301), seed=3)[0]  # odd sizes: resizing must round-trip


def test_mask_comes_back_at_the_original_resolution(segmenter: Segmenter,
                                                    lesion: np.ndarray) -> None:
    result = segmenter.predict(lesion)
    assert result.mask.shape == (217, 301) and result.mask.dtype == bool
    assert result.probability.shape == (217, 301) and result.probability.dtype == np.float32
    assert 0.0 <= result.probability.min() and result.probability.max() <= 1.0
    assert result.uncertainty is None
    assert result.area_pixels == int(result.mask.sum())
    assert result.area_fraction == pytest.approx(result.area_pixels / (217 * 301))
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".tif"])
def test_every_file_format(segmenter: Segmenter, lesion: np.ndarray, tmp_path: Path,
                           suffix: str) -> None:
    path = tmp_path / f"case{suffix}"
    Image.fromarray(lesion).save(path)
    result = segmenter.predict(path)
    assert result.id == "case" and result.mask.shape == (217, 301)


def test_pil_numpy_and_file_inputs_agree(segmenter: Segmenter, lesion: np.ndarray,
                                         tmp_path: Path) -> None:
    Image.fromarray(lesion).save(tmp_path / "x.png")
    from_array = segmenter.predict(lesion).probability
    assert np.array_equal(segmenter.predict(Image.fromarray(lesion)).probability, from_array)
    assert np.array_equal(segmenter.predict(tmp_path / "x.png").probability, from_array)
    assert np.array_equal(segmenter.predict(str(tmp_path / "x.png")).probability, from_array)


def test_grey_rgba_and_16_bit_inputs(segmenter: Segmenter, lesion: np.ndarray,
                                     tmp_path: Path) -> None:
    grey = lesion.mean(axis=2).astype(np.uint8)
    assert segmenter.predict(grey).mask.shape == grey.shape
    rgba = np.dstack([lesion, np.full(lesion.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert np.array_equal(segmenter.predict(tmp_path / "rgba.png").probability,
                          segmenter.predict(lesion).probability)  # alpha is dropped
    deep = grey.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "deep.png")  # a 16-bit greyscale PNG
    assert np.array_equal(segmenter.predict(tmp_path / "deep.png").probability,
                          segmenter.predict(grey).probability)  # rescaled, not clipped
    assert np.array_equal(segmenter.predict(grey.astype(np.float32) / 255).probability,
                          segmenter.predict(grey).probability)


def test_bad_inputs_raise_value_errors(segmenter: Segmenter, tmp_path: Path) -> None:
    (tmp_path / "note.png").write_text("not an image")
    with pytest.raises(ImageReadError):
        segmenter.predict(tmp_path / "note.png")
    with pytest.raises(ValueError, match="shape"):
        segmenter.predict(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        segmenter.predict(np.full((8, 8), 3.0))


def test_samples_one_is_deterministic(segmenter: Segmenter, lesion: np.ndarray) -> None:
    first, second = segmenter.predict(lesion), segmenter.predict(lesion)
    assert np.array_equal(first.probability, second.probability)
    assert np.array_equal(first.mask, second.mask)


def test_sampling_gives_an_uncertainty_map(weights: Path, lesion: np.ndarray,
                                           segmenter: Segmenter) -> None:
    sampled = Segmenter(weights, image_size=SIZE, samples=4, seed=7)
    result = sampled.predict(lesion)
    assert result.uncertainty is not None
    assert result.uncertainty.shape == (217, 301) and result.uncertainty.dtype == np.float32
    assert result.uncertainty.min() >= 0 and result.uncertainty.max() > 0
    assert np.array_equal(sampled.predict(lesion).probability, result.probability)  # seeded
    image = result.uncertainty_image()
    assert image is not None and image.mode == "RGB" and image.size == (301, 217)
    assert segmenter.predict(lesion).uncertainty_image() is None


def test_sampling_flags_against_the_threshold_chosen_for_sampling(
        weights: Path, lesion: np.ndarray) -> None:
    """A mean over noisy maps has softer borders, so its confidence runs lower: the flag
    uses the threshold chosen with sampling on, unless the caller sets one."""
    from mobilegan.inference.segmenter import (LOW_CONFIDENCE, LOW_CONFIDENCE_FEW_SAMPLES,
                                               LOW_CONFIDENCE_SAMPLED,
                                               LOW_CONFIDENCE_SAMPLED_TTA, LOW_CONFIDENCE_TTA,
                                               low_confidence_threshold)

    assert LOW_CONFIDENCE_SAMPLED < LOW_CONFIDENCE
    assert low_confidence_threshold(1) == LOW_CONFIDENCE
    assert low_confidence_threshold(8) == low_confidence_threshold(16) == LOW_CONFIDENCE_SAMPLED
    # fewer samples, a less soft mean: thresholds between (each chosen at its own count)
    by_count = [low_confidence_threshold(n) for n in range(1, 9)]
    assert by_count == sorted(by_count, reverse=True) and len(set(by_count)) == 4
    assert low_confidence_threshold(3) == LOW_CONFIDENCE_FEW_SAMPLES[2]
    assert low_confidence_threshold(7) == LOW_CONFIDENCE_FEW_SAMPLES[4]
    # flip TTA softens borders further (the plain threshold would flag most images): its own
    assert low_confidence_threshold(1, tta=True) == LOW_CONFIDENCE_TTA < LOW_CONFIDENCE_SAMPLED
    assert low_confidence_threshold(8, tta=True) == LOW_CONFIDENCE_SAMPLED_TTA < LOW_CONFIDENCE_TTA
    assert Segmenter(weights, image_size=SIZE, tta=True).low_confidence_below == LOW_CONFIDENCE_TTA
    assert Segmenter(weights, image_size=SIZE).low_confidence_below == LOW_CONFIDENCE
    sampled = Segmenter(weights, image_size=SIZE, samples=4, seed=1)
    assert sampled.low_confidence_below == LOW_CONFIDENCE_FEW_SAMPLES[4]
    result = sampled.predict(lesion)
    assert result.low_confidence == (result.confidence < LOW_CONFIDENCE_FEW_SAMPLES[4]
                                     or result.area_pixels == 0)
    chosen = Segmenter(weights, image_size=SIZE, samples=4, seed=1, low_confidence_below=0.5)
    assert chosen.low_confidence_below == 0.5
    assert chosen.predict(lesion).low_confidence == (result.confidence < 0.5
                                                     or result.area_pixels == 0)


def test_an_image_with_no_lesion_found_is_flagged() -> None:
    """An empty map scores confidence 1 (no hesitant pixel); no lesion in a picture meant
    to show one deserves a look all the same."""
    import torch

    class Nothing(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full((x.shape[0], 1, *x.shape[2:]), -12.0)

    result = Segmenter.from_module(Nothing(), image_size=SIZE).predict(
        np.full((40, 50, 3), 200, np.uint8))
    assert result.area_pixels == 0 and result.confidence == 1.0 and result.low_confidence
    assert result.review_reason == "no_lesion"


def test_an_image_far_from_a_dermoscopy_shape_is_flagged() -> None:
    """The network sees every image squeezed to a square: a strip of 3:1 or longer gets a
    human look even when the network is sure of its (squeezed) lesion."""
    import torch

    from mobilegan.inference.segmenter import MAX_ASPECT_RATIO

    class CentreSquare(torch.nn.Module):  # a decided lesion in the middle of any input
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.full((x.shape[0], 1, *x.shape[2:]), -12.0)
            h, w = x.shape[2:]
            logits[..., h // 4:3 * h // 4, w // 4:3 * w // 4] = 12.0
            return logits

    segmenter = Segmenter.from_module(CentreSquare(), image_size=SIZE)
    assert MAX_ASPECT_RATIO == 3.0
    for (height, width), flagged in [((100, 299), False), ((100, 300), True),
                                     ((300, 100), True), ((150, 200), False)]:
        result = segmenter.predict(np.full((height, width, 3), 150, np.uint8))
        assert result.confidence == 1.0 and result.area_pixels > 0
        assert result.low_confidence == flagged, (height, width)
        assert result.review_reason == ("shape" if flagged else None)


def test_tta_averages_flips(weights: Path, segmenter: Segmenter) -> None:
    """With TTA, a mirrored image gives the mirrored probability map."""
    image = draw_lesion((96, 128), seed=1, label=False)[0]
    tta = Segmenter(weights, image_size=SIZE, tta=True)
    plain, mirrored = tta.predict(image).probability, tta.predict(image[:, ::-1]).probability
    assert np.allclose(mirrored[:, ::-1], plain, atol=1e-5)
    assert not np.allclose(segmenter.predict(image[:, ::-1]).probability[:, ::-1],
                           segmenter.predict(image).probability, atol=1e-5)


def test_postprocess_leaves_one_component(weights: Path, lesion: np.ndarray) -> None:
    from scipy import ndimage

    raw = Segmenter(weights, image_size=SIZE, postprocess=False, threshold=0.49).predict(lesion)
    clean = Segmenter(weights, image_size=SIZE, threshold=0.49).predict(lesion)
    assert ndimage.label(raw.mask, np.ones((3, 3)))[1] > 1  # an untrained net is speckled
    assert ndimage.label(clean.mask, np.ones((3, 3)))[1] == 1


def test_predict_many_streams_real_images(segmenter: Segmenter, isic2018: Path) -> None:
    paths = sorted((isic2018 / "ISIC2018_Task1-2_Training_Input").glob("*.jpg"))[:3]
    results = segmenter.predict_many(paths, batch_size=2)
    assert not isinstance(results, list)  # a generator: nothing read before it is asked
    ids = []
    for path, result in zip(paths, results):
        with Image.open(path) as im:
            assert result.mask.shape == (im.height, im.width)
        ids.append(result.id)
    assert ids == [p.stem for p in paths]
    batched = segmenter.predict_batch([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    assert np.allclose(batched[2].probability, segmenter.predict(paths[2]).probability, atol=1e-5)


def test_predict_many_gives_the_files_before_a_bad_one_then_raises(
        segmenter: Segmenter, isic2018: Path, tmp_path: Path) -> None:
    """The files read before an unreadable one were held unsegmented when it raised, and a
    generator that has raised cannot go on: their results were lost."""
    good = sorted((isic2018 / "ISIC2018_Task1-2_Training_Input").glob("*.jpg"))[:2]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    results = segmenter.predict_many([*good, bad, good[0]], batch_size=8)
    assert [next(results).id, next(results).id] == [p.stem for p in good]
    with pytest.raises(ImageReadError, match="bad.png"):
        next(results)


def test_predict_many_batches_by_pixels_as_well_as_by_count(segmenter: Segmenter,
                                                            tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Large originals are not held eight at a time: a batch also ends before the image
    that would take it past BATCH_PIXELS, and an image larger than that goes alone."""
    from mobilegan.inference import segmenter as module

    sizes = [(40, 50), (40, 50), (40, 50), (90, 100), (40, 50), (32, 32)]  # 2000 px each...
    paths = []
    for i, (h, w) in enumerate(sizes):
        paths.append(tmp_path / f"im{i}.png")
        Image.fromarray(draw_lesion((h, w), seed=i, label=False)[0]).save(paths[-1])
    calls: list[int] = []
    batch = segmenter.predict_batch
    monkeypatch.setattr(segmenter, "predict_batch",
                        lambda images, ids=None: calls.append(len(images)) or batch(images, ids))
    monkeypatch.setattr(module, "BATCH_PIXELS", 5_000)
    results = list(segmenter.predict_many(paths, batch_size=8))
    # 2000 + 2000 fits, a third would not; 9000 alone; 2000 + 1024 at the end
    assert calls == [2, 1, 1, 2]
    assert [r.id for r in results] == [p.stem for p in paths]
    assert [r.mask.shape for r in results] == sizes
    calls.clear()
    monkeypatch.setattr(module, "BATCH_PIXELS", 10**9)
    list(segmenter.predict_many(paths, batch_size=4))
    assert calls == [4, 2]


def test_invalid_options_are_refused(weights: Path) -> None:
    with pytest.raises(ValueError, match="image_size"):
        Segmenter(weights, image_size=100)
    with pytest.raises(ValueError, match="backend='torch'"):
        Segmenter(weights, backend="onnx", samples=4)
    with pytest.raises(ValueError, match="threshold"):
        Segmenter(weights, threshold=1.0)
    # threads=-1 reached torch as a RuntimeError traceback; int8 took it without a word
    for backend in ("torch", "int8"):
        for threads in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="threads must be a whole number >= 1"):
                Segmenter(weights if backend == "torch" else None, backend=backend,
                          threads=threads)


def test_an_onnx_file_with_the_default_torch_backend_says_which_backend(tmp_path: Path) -> None:
    """``--weights model.onnx`` without ``--backend onnx`` used to fail with "no such file:
    model.json", which sends the user looking for a file that should not exist."""
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not needed: refused before it is read")
    with pytest.raises(ValueError, match="backend='onnx'"):
        Segmenter(onnx)


def test_unet_cannot_sample(tmp_path: Path) -> None:
    cfg = ModelConfig(name="unet", unet_base=8)
    path = save_model(build_model(cfg), cfg, tmp_path / "unet.safetensors")
    assert Segmenter(path, image_size=SIZE).predict(np.zeros((40, 40, 3), np.uint8)).mask.shape == (40, 40)
    with pytest.raises(ValueError, match="noise z"):
        Segmenter(path, image_size=SIZE, samples=2)


def test_from_pretrained(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "missing.safetensors"))
    with pytest.raises(FileNotFoundError, match="shipped weights"):
        Segmenter.from_pretrained()
    monkeypatch.setenv(WEIGHTS_ENV, str(weights))
    pretrained = Segmenter.from_pretrained(image_size=SIZE)
    assert pretrained.weights == weights
    assert pretrained.predict(np.zeros((32, 32), np.uint8)).mask.shape == (32, 32)


def test_exposure_normalisation_changes_what_the_network_sees_not_the_outputs(
        weights: Path, lesion: np.ndarray) -> None:
    from mobilegan.inference.preprocess import normalize_exposure

    dark = (lesion.astype(np.float32) * 0.5).astype(np.uint8)
    normalised = Segmenter(weights, image_size=SIZE).predict(dark)  # on by default
    by_hand = Segmenter(weights, image_size=SIZE, exposure=False).predict(normalize_exposure(dark))
    plain = Segmenter(weights, image_size=SIZE, exposure=False).predict(dark)
    np.testing.assert_array_equal(normalised.probability, by_hand.probability)
    assert not np.array_equal(normalised.probability, plain.probability)
    assert normalised.mask.shape == dark.shape[:2]


def test_the_exposure_target_is_the_training_images_mean(isic2018: Path) -> None:
    from mobilegan.data.layouts import load_samples
    from mobilegan.inference.preprocess import TRAINING_MEAN_LUMINANCE, mean_luminance, read_input_file

    samples = load_samples(isic2018, "train")
    sample = samples[:: len(samples) // 100][:100]  # spread over the archive's id range
    measured = np.mean([mean_luminance(read_input_file(s.image)) for s in sample])
    assert abs(measured - TRAINING_MEAN_LUMINANCE) < 6.0  # images vary with std 22: SE 2.2


def test_default_image_size_is_the_one_the_weights_were_trained_at(tmp_path: Path) -> None:
    """As ``mobilegan evaluate`` (and docs/deployment.md) do: weights trained at 64 run at
    64 unless told otherwise, with either backend; it used to be 128 whatever the weights."""
    cfg = ModelConfig(head_init="pytorch")
    trained = save_model(build_model(cfg), cfg, tmp_path / "w64.safetensors",
                         metadata={"image_size": 64})
    unknown = save_model(build_model(cfg), cfg, tmp_path / "w.safetensors")
    assert Segmenter(trained).image_size == 64
    assert Segmenter(trained, image_size=96).image_size == 96  # the caller's choice wins
    assert Segmenter(unknown).image_size == 128
    onnx = Segmenter(trained, backend="onnx")  # the on-the-fly export carries the metadata
    assert onnx.image_size == 64
    assert onnx.predict(np.zeros((30, 50, 3), np.uint8)).mask.shape == (30, 50)


def test_batches_take_lists_or_4d_arrays_and_name_files(segmenter: Segmenter, lesion: np.ndarray,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "mole_7.png"
    Image.fromarray(lesion).save(path)
    from_list = segmenter.predict_batch([lesion, lesion])
    from_array = segmenter.predict_batch(np.stack([lesion, lesion]))
    assert np.array_equal(from_list[1].mask, from_array[1].mask)
    assert [r.id for r in segmenter.predict_batch([path, lesion])] == ["mole_7", None]
    assert segmenter.predict_batch([lesion], ids=[5])[0].id == "5"
    assert segmenter.predict_batch(iter([])) == []
    with pytest.raises(ValueError, match="use predict for one image"):
        segmenter.predict_batch(lesion)
    for one in (str(path), path):
        with pytest.raises(TypeError, match="takes a list of"):
            segmenter.predict_batch(one)
        with pytest.raises(TypeError, match="takes a list of"):
            list(segmenter.predict_many(one))
    for size in (2.5, 0, True):  # 2.5 once buffered every input into one batch
        with pytest.raises(ValueError, match="batch_size must be an int"):
            list(segmenter.predict_many([path], batch_size=size))


def test_options_of_the_wrong_type_or_range_are_refused_at_once(weights: Path) -> None:
    for bad in ({"samples": 2.5}, {"samples": True}, {"samples": "4"}, {"image_size": 0},
                {"threshold": "0.5"}, {"low_confidence_below": 5}, {"low_confidence_below": -1},
                {"max_pixels": 0}, {"max_pixels": 1.5}):
        with pytest.raises(ValueError):
            Segmenter(weights, **bad)
    assert Segmenter(weights, image_size=SIZE, samples=np.int64(2)).samples == 2


def test_a_uint16_array_is_read_as_its_16_bit_file_would_be(lesion: np.ndarray,
                                                             tmp_path: Path) -> None:
    """Arrays were floored (// 257) where files are rounded, one level apart on every
    pixel; big-endian arrays were refused as "use uint8"; an array of 8-bit values (an
    all-black frame too) was refused where its file is read as 8-bit. One rule now."""
    from mobilegan.inference.preprocess import array_to_rgb, to_rgb

    grey = lesion[..., 0]
    for values in (grey.astype(np.uint16) * 257 + 200, grey.astype(np.uint16)):
        Image.fromarray(values).save(tmp_path / "deep.png")
        from_file = to_rgb(tmp_path / "deep.png")
        assert np.array_equal(array_to_rgb(values), from_file)
        assert np.array_equal(array_to_rgb(values.astype(">u2")), from_file)
    assert np.array_equal(array_to_rgb(grey.astype(np.uint16))[..., 0], grey)  # 8-bit values
    assert array_to_rgb(np.zeros((4, 4), np.uint16)).max() == 0  # a black frame
    assert np.array_equal(array_to_rgb(lesion.astype(np.uint16) * 257), lesion)
    # Colour values all <= 255: 8-bit colour, or a near-black 16-bit picture (which Pillow
    # reads from its file as black)? Refused, saying how to pass 8-bit values.
    with pytest.raises(ValueError, match="astype"):
        array_to_rgb(lesion.astype(np.uint16))


@pytest.mark.parametrize("tta", [False, True])
def test_a_seeded_samples_result_does_not_depend_on_its_batch(weights: Path, lesion: np.ndarray,
                                                              tta: bool) -> None:
    other = draw_lesion((150, 120), seed=9)[0]
    seg = Segmenter(weights, image_size=SIZE, samples=3, seed=5, tta=tta)
    alone = seg.predict(lesion)
    first, second, third = seg.predict_batch([other, lesion, lesion])
    assert np.array_equal(second.probability, alone.probability)
    assert np.array_equal(third.uncertainty, alone.uncertainty)
    assert not np.array_equal(first.probability[:100, :100], second.probability[:100, :100])


def test_seeded_views_of_one_image_draw_their_own_noise(weights: Path) -> None:
    """Under TTA an image's four views are one group: seeded, the group draws from the seed
    (batch neighbours change nothing) and each view draws apart, as unseeded sampling
    does; one seed per view gave the views one shared draw."""
    from mobilegan.inference.torch_backend import TorchBackend
    from mobilegan.models.io import load_model

    backend = TorchBackend(load_model(weights, map_location="cpu")[0], seed=3)
    row = np.random.default_rng(0).uniform(-1, 1, (1, 3, SIZE, SIZE)).astype(np.float32)
    other = np.random.default_rng(1).uniform(-1, 1, (4, 3, SIZE, SIZE)).astype(np.float32)
    same_views = np.repeat(row, 4, axis=0)
    grouped = backend.sample_logits(same_views, 2, group=4)  # (2, 4, 1, S, S)
    assert not np.array_equal(grouped[:, 0], grouped[:, 1])
    per_row = backend.sample_logits(same_views, 2, group=1)  # one draw per row, repeated
    assert np.array_equal(per_row[:, 0], per_row[:, 3])
    beside = backend.sample_logits(np.concatenate([other, same_views]), 2, group=4)
    assert np.array_equal(beside[:, 4:], grouped)
    with pytest.raises(ValueError, match="whole groups"):
        backend.sample_logits(same_views[:3], 2, group=4)


def test_the_package_exports_the_api_a_researcher_reaches_for() -> None:
    import mobilegan
    from mobilegan.evaluation.evaluate import evaluate
    from mobilegan.inference.result import SegmentationResult
    from mobilegan.training.trainer import train

    assert mobilegan.evaluate is evaluate and mobilegan.train is train
    assert mobilegan.SegmentationResult is SegmentationResult
    assert {"Segmenter", "evaluate", "train", "SegmentationResult"} <= set(dir(mobilegan))


def test_devices_a_backend_cannot_use_are_value_errors(tmp_path: Path) -> None:
    import torch

    from mobilegan.hardware import resolve_device
    from mobilegan.inference.onnx_backend import OnnxBackend

    if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        with pytest.raises(ValueError, match="MPS"):
            resolve_device("mps")
    with pytest.raises(ValueError, match="only cpu, cuda and mps"):
        resolve_device("meta")
    from mobilegan.inference.segmenter import shipped_int8

    with pytest.raises(ValueError, match="cpu or cuda"):
        OnnxBackend(shipped_int8(), device="bogus")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        # said at once, not a silent fall-back to the CPU that then reports "cuda"
        with pytest.raises(ValueError, match="no CUDA provider"):
            OnnxBackend(shipped_int8(), device="cuda")


def test_the_pixel_limit_for_files_is_the_callers_to_set(weights: Path, lesion: np.ndarray,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "lesion.png"
    Image.fromarray(lesion).save(path)  # 301 x 217 = 65,317 pixels
    strict = Segmenter(weights, image_size=SIZE, max_pixels=60_000)
    for call in (lambda: strict.predict(path), lambda: strict.predict_batch([path]),
                 lambda: list(strict.predict_many([path]))):
        with pytest.raises(ImageReadError, match="over the limit of 60,000") as caught:
            call()
        assert caught.value.kind == "too_large" and "Segmenter(max_pixels" in str(caught.value)
    roomy = Segmenter(weights, image_size=SIZE, max_pixels=70_000)
    assert roomy.predict(path).mask.shape == (217, 301)


def test_from_pretrained_with_weights_points_to_the_constructor() -> None:
    with pytest.raises(TypeError, match=r"Segmenter\(weights=\.\.\.\)"):
        Segmenter.from_pretrained(weights="mine.safetensors")


class _FixedNetwork:
    """A backend whose logits are given: a lesion disc with a soft border on the network's
    grid; each noise sample adds its own offset."""

    name, can_sample = "fixed", True

    def __init__(self, size: int, offsets: tuple[float, ...] = (0.0,)) -> None:
        yy, xx = np.mgrid[:size, :size]
        radius = np.hypot(yy - size / 2, xx - size / 2)
        self.map = (size / 4 - radius).astype(np.float32) / 2  # logit 0 on the border
        self.offsets = offsets

    def logits(self, batch: np.ndarray, sampling: bool = False) -> np.ndarray:
        return np.broadcast_to(self.map, (len(batch), 1, *self.map.shape)).copy()

    def sample_logits(self, batch: np.ndarray, samples: int, group: int = 1) -> np.ndarray:
        return np.stack([self.logits(batch) + self.offsets[i % len(self.offsets)]
                         for i in range(samples)])


def _segmenter_on(network: _FixedNetwork, size: int, samples: int = 1) -> Segmenter:
    from mobilegan.models.registry import build_model

    segmenter = Segmenter.from_module(build_model(ModelConfig()), image_size=size)
    segmenter.backend, segmenter.samples = network, samples
    return segmenter


def test_confidence_is_scored_on_the_network_grid_whatever_the_image_size() -> None:
    """The same map at any output size gives the same score: the network's own map is
    scored, not its upsampled copy (whose ramps would grow with the image)."""
    from scipy.special import expit

    from mobilegan.inference.postprocess import confidence

    network = _FixedNetwork(32)
    segmenter = _segmenter_on(network, 32)
    small = segmenter.predict(np.zeros((32, 32, 3), np.uint8)).confidence
    large = segmenter.predict(np.zeros((768, 1024, 3), np.uint8)).confidence
    assert small == large == pytest.approx(confidence(expit(network.map)))


def test_the_uncertainty_map_is_the_variance_over_samples() -> None:
    """Two samples, probabilities 0.2 and 0.8 at every pixel: variance 0.09 (its standard
    deviation, 0.3, is what the PNG draws), mean 0.5."""
    import math

    logit = math.log(0.8 / 0.2)
    network = _FixedNetwork(32, offsets=(-logit, logit))
    network.map[:] = 0.0
    result = _segmenter_on(network, 32, samples=2).predict(np.zeros((20, 30, 3), np.uint8))
    assert result.uncertainty.shape == (20, 30)
    assert np.allclose(result.uncertainty, 0.09, atol=1e-5)
    assert np.allclose(result.probability, 0.5, atol=1e-5)


def test_seeded_sampling_leaves_the_callers_random_numbers_alone(weights: Path,
                                                                lesion: np.ndarray) -> None:
    """A seeded Segmenter draws its noise from its own seed: the caller's torch RNG goes
    on as if nothing had run (a training loop beside it keeps its sequence)."""
    import torch

    segmenter = Segmenter(weights, image_size=SIZE, samples=2, seed=0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    segmenter.predict(lesion)
    assert torch.equal(torch.rand(3), expected)


def test_an_onnx_backend_asked_for_samples_is_refused_not_run_with_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mobilegan.cli.main import main

    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=1)[0]).save(image)
    assert main(["segment", str(image), "--out", str(tmp_path / "o"), "--backend", "int8",
                 "--samples", "8", "--quiet"]) == 2
    assert "needs backend='torch'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.csv").exists()


def test_the_segmenters_pixel_limit_holds_for_its_folder_runs_and_overlays(
        weights: Path, lesion: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Segmenter(max_pixels=...) was ignored by segment_files (the default 50 M applied)
    and by result.overlay(path), which read the file it was segmented from under 50 M."""
    import csv

    from mobilegan.inference import preprocess
    from mobilegan.inference.batch import segment_files

    path = tmp_path / "x.png"
    Image.fromarray(lesion).save(path)
    strict = Segmenter(weights, image_size=SIZE, max_pixels=1000)  # the image has 65,317
    segment_files(strict, [path], tmp_path / "out", progress=False)
    with (tmp_path / "out" / "results.csv").open(newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["status"] == "error" and "1,000" in row["error"]
    result = Segmenter(weights, image_size=SIZE).predict(lesion)
    limits = []
    read = preprocess.read_input_file
    monkeypatch.setattr(preprocess, "read_input_file",
                        lambda p, max_pixels=None: limits.append(max_pixels) or read(p, max_pixels))
    result.overlay(path)
    assert limits and limits[0] >= result.mask.size


def test_a_second_lesion_dropped_by_post_processing_flags_the_image(segmenter: Segmenter) -> None:
    """Post-processing keeps the largest region: two lesions of one size lost one at
    random (the first in raster order) without a word."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    mean = np.zeros((SIZE, SIZE), np.float32)
    mean[8:24, 8:24] = 0.95
    mean[40:56, 40:55] = 0.95  # 240 pixels beside 256
    twins = segmenter._finish(image, mean, None, "twins")
    assert twins.review_reason == "multiple_lesions" and twins.low_confidence
    assert twins.area_pixels == 256  # the larger one is the mask
    mean[40:56, 40:55] = 0.0
    mean[40:44, 40:44] = 0.95  # a speck: dropped as before, no flag
    speck = segmenter._finish(image, mean, None, "speck")
    assert speck.review_reason != "multiple_lesions" and speck.area_pixels == 256


def test_from_module_leaves_the_callers_network_as_it_found_it(lesion: np.ndarray) -> None:
    """A network wrapped between two training steps stays in training mode, on its device,
    and torch's thread count is untouched unless ``threads`` is given."""
    import torch

    from mobilegan.models.registry import build_model

    model = build_model(ModelConfig()).train()
    for module in list(model.modules())[1:4]:
        module.eval()  # a caller's mix of modes (frozen batch norm, say) comes back as it was
    modes = {name: m.training for name, m in model.named_modules()}
    threads = torch.get_num_threads()
    segmenter = Segmenter.from_module(model, image_size=SIZE)
    result = segmenter.predict(lesion)
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert torch.get_num_threads() == threads
    assert next(model.parameters()).device.type == "cpu"
    # ... and it ran in eval mode (batch statistics of one image would give another map).
    evaluated = Segmenter.from_module(build_model(ModelConfig()).eval(), image_size=SIZE)
    evaluated.backend.model.load_state_dict(model.state_dict())
    assert np.array_equal(evaluated.predict(lesion).probability, result.probability)


def test_a_second_region_of_exactly_half_the_lesion_flags_the_image(
        segmenter: Segmenter) -> None:
    """SECOND_LESION_RATIO is a bound that is reached: a dropped region half the kept
    lesion's size flags the image; one pixel smaller does not."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    mean = np.zeros((SIZE, SIZE), np.float32)
    mean[8:24, 8:24] = 0.95  # the lesion: 256 pixels
    mean[40:56, 40:48] = 0.95  # 128 pixels: exactly half
    half = segmenter._finish(image, mean, None, "half")
    assert half.area_pixels == 256
    assert half.review_reason == "multiple_lesions"
    mean[55, 47] = 0.0  # 127 pixels: under half
    under = segmenter._finish(image, mean, None, "under")
    assert under.area_pixels == 256
    assert under.review_reason != "multiple_lesions"
