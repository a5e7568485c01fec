"""Segment real images: any size, mode or source in, a mask at the image's own resolution out.

Pipeline: read -> resize to ``image_size`` (bilinear, as in training) -> normalise ->
logits -> (TTA: probabilities averaged over horizontal, vertical and both flips) -> probability
resized back to the original resolution (bilinear) -> threshold -> largest component +
hole filling -> :class:`SegmentationResult`.

Importing this module needs no torch: ``backend="onnx"`` runs on numpy + onnxruntime.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from scipy.special import expit

from mobilegan import paper
from mobilegan.inference import postprocess
from mobilegan.inference.preprocess import (ImageInput, normalize_exposure, prepare_batch,
                                            read_input_file, to_rgb)
from mobilegan.inference.result import SegmentationResult
from mobilegan.metrics.isic import resize_probability

#: Environment variable that points ``from_pretrained`` at other weights (a deployment
#: or a test); the shipped file is used when it is unset.
WEIGHTS_ENV = "MOBILEGAN_WEIGHTS"
#: Images whose confidence is under this are flagged for a human look. Chosen on held-out
#: validation images with the shipped weights (v6) and the default pipeline
#: (benchmarks/calibrate_confidence.py: all 413 ISIC 2018 validation images, no noise
#: sampling; results/v6/confidence_calibration.json): 0.963, the 20% quantile rounded,
#: flags 83 images, which hold 22 of the 31 masks with JAC < 0.65 (AUROC 0.87; mean JAC
#: 0.71 flagged vs 0.88 kept). Reported, not chosen, on the leak-free ISIC 2017 test set:
#: results/v6/confidence_test.json. v6 is surer of itself than v5, whose threshold (0.952,
#: results/v5/) flags 10% of these images with v6; v4's was 0.959. A ranking aid, not a
#: probability.
LOW_CONFIDENCE = 0.963
#: The same choice with the noise z sampled (``samples > 1``): a mean over noisy maps has
#: softer borders, so the score runs lower. Chosen at 8 samples (``mobilegan serve``'s
#: default) the same way: the 20% quantile rounded, 0.956, flags 85 of 413 holding 23 of
#: the 31 failures (AUROC 0.88; results/v6/confidence_calibration_samples8.json); the test
#: set's report is confidence_test_samples8.json.
LOW_CONFIDENCE_SAMPLED = 0.956
#: With fewer samples the mean map is less soft and the score runs between the two. Chosen
#: the same way at 2 and 4 samples (results/v6/confidence_calibration_samples{2,4}.json);
#: a count between takes the nearest one below (3 -> 2's, 5-7 -> 4's), 8 and more take
#: 0.956 (at 16 samples it flags 21% of the held-out images: confidence_calibration_samples16.json).
LOW_CONFIDENCE_FEW_SAMPLES = {2: 0.958, 4: 0.957}
#: With flip TTA (``tta=True``) the four views disagree on the border, the averaged map's
#: band of hesitant pixels widens and the score runs far lower: 0.963 flags 98% of the
#: held-out images. Chosen the same way on the 413 held-out images with TTA, the 20% quantile
#: rounded: 0.843 flags 83 holding 27 of their 31 failures (AUROC 0.94;
#: results/v6/confidence_calibration_tta.json); with 8 samples too, 0.839 flags 83 holding
#: 27 of 31 (AUROC 0.94; confidence_calibration_samples8_tta.json; 0.836 before each view
#: drew its own noise under a seed). Reported on the test set in
#: results/v6/confidence_test_tta.json and confidence_test_samples8_tta.json.
LOW_CONFIDENCE_TTA = 0.843
LOW_CONFIDENCE_SAMPLED_TTA = 0.839


def low_confidence_threshold(samples: int, tta: bool = False) -> float:
    """The flagging threshold chosen for this way of running the network (with TTA, the one
    chosen at 8 samples serves every count above 1: at 2 samples it flags 20% of the
    held-out images too; confidence_calibration_samples2_tta.json)."""
    if tta:
        return LOW_CONFIDENCE_TTA if samples <= 1 else LOW_CONFIDENCE_SAMPLED_TTA
    if samples <= 1:
        return LOW_CONFIDENCE
    if samples >= 8:
        return LOW_CONFIDENCE_SAMPLED
    return LOW_CONFIDENCE_FEW_SAMPLES[max(n for n in LOW_CONFIDENCE_FEW_SAMPLES if n <= samples)]


#: Aspect ratio (long side over short) from which an image is flagged for a human look,
#: whatever its score. The network sees every image squeezed to a square; dermoscopy
#: images are 1:1 to about 3:2 (ISIC's originals, PH2's 768x560), so a strip of 3:1 or more
#: is not one, or is a crop squeezed out of shape: an 8000x50 strip scored a confident 9%
#: lesion before this.
MAX_ASPECT_RATIO = 3.0
#: Pixels of decoded images that ``predict_many`` and ``mobilegan segment`` hold for one
#: batch: eight 27-megapixel ISIC originals at once peaked at 2.8 GB, and such images
#: spend their time in the full-size work around the network, so batching them saves
#: little (3.5 s per image by count against 3.4 s: results/cpu/large_images.md). A batch
#: ends before the image that would take it past this (an image larger than it goes alone).
BATCH_PIXELS = 32_000_000


def pixels(image: np.ndarray) -> int:
    """Height x width of an image array (what a batch's :data:`BATCH_PIXELS` counts)."""
    return int(image.shape[0]) * int(image.shape[1])


def ends_batch(held: Iterable[np.ndarray], image: np.ndarray) -> bool:
    """Whether a batch holding the images ``held`` must be segmented before ``image`` is
    added, as it would pass :data:`BATCH_PIXELS` (an empty batch always takes it): the one
    rule of ``predict_many`` and ``mobilegan segment``."""
    sizes = [pixels(im) for im in held]
    return bool(sizes) and sum(sizes) + pixels(image) > BATCH_PIXELS


#: Largest batch handed to the network at once (samples x flips x images are split).
MAX_FORWARD_BATCH = 32
#: Network input size when neither the caller nor the weights' metadata gives one.
DEFAULT_IMAGE_SIZE = paper.IMAGE_SIZE
#: How the network runs: PyTorch, ONNX Runtime float32, or ONNX Runtime with int8 convolutions.
BACKENDS = ("torch", "onnx", "int8")


#: The weights inside the package (read-only where the package is installed system-wide).
PACKAGED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "mobilegan.safetensors"


def shipped_weights() -> Path:
    """The weights ``from_pretrained`` loads: $MOBILEGAN_WEIGHTS, else the packaged file."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        return Path(override)
    return PACKAGED_WEIGHTS


def shipped_int8() -> Path:
    """The int8 ONNX twin of :func:`shipped_weights` (``<name>_int8.onnx`` beside it), made
    by ``mobilegan export --quantize int8`` for phone-class CPUs."""
    weights = shipped_weights()
    return weights.with_name(f"{weights.stem}_int8.onnx")


class Segmenter:
    """Lesion segmentation with a trained MobileGAN (or any registry network).

    ``samples > 1`` runs the network that many times with the noise z on (one batched
    forward) and returns the mean probability and its per-pixel variance; ``samples=1``
    keeps the noise off, so results are deterministic. ``tta`` averages over flips.
    ``exposure`` (on by default) scales each image to the training images' mean brightness
    before the network sees it (:func:`mobilegan.inference.preprocess.normalize_exposure`;
    masks and overlays keep the original pixels): it removed the loss on under-exposed
    images and cost nothing on clean ones (RESULTS.md, Table 6). ``confidence`` is the
    share of the lesion that stays lesion from threshold 0.1 to 0.9 (see
    :func:`mobilegan.inference.postprocess.confidence`); images below
    ``low_confidence_below`` (default: the threshold chosen for this number of samples and
    TTA, :func:`low_confidence_threshold`) are flagged and deserve a human look.
    ``weights`` is a ``.safetensors`` file (with its ``.json``) or, for
    ``backend="onnx"``, an ``.onnx`` file; None means the shipped weights.
    ``backend="int8"`` runs an int8 ONNX file (default: the shipped one) with onnxruntime:
    about 1.4x faster on a CPU, masks as good as float32's (v6: JAC -0.04 on held-out
    images, +0.3 on the test set; docs/deployment.md).
    ``image_size`` None (the default) is the size the weights were trained at, as their
    metadata records it (``mobilegan evaluate`` uses the same), else 128. Image files over
    ``max_pixels`` (None: 50 M) are refused as possible decompression bombs.
    """

    def __init__(self, weights: str | os.PathLike | None = None,
                 backend: Literal["torch", "onnx", "int8"] = "torch",
                 image_size: int | None = None,
                 tta: bool = False, samples: int = 1, postprocess: bool = True,
                 threshold: float = 0.5, threads: int | None = None, device: str = "cpu",
                 low_confidence_below: float | None = None, seed: int | None = None,
                 exposure: bool = True, max_pixels: int | None = None) -> None:
        self._configure(DEFAULT_IMAGE_SIZE if image_size is None else image_size, tta, samples,
                        postprocess, threshold, low_confidence_below, exposure, max_pixels)
        _check(backend in BACKENDS, f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        # 0 or -1 reached torch as a traceback, or was quietly ignored by ONNX Runtime.
        _check(threads is None or (is_int(threads) and threads >= 1),
               f"threads must be a whole number >= 1 (or None for the machine's default), "
               f"got {threads!r}")
        if backend != "torch" and samples > 1:
            raise ValueError("samples > 1 needs backend='torch': the ONNX export has no noise z "
                             "(dropout is not exported), so it cannot estimate uncertainty")
        if backend == "int8":
            path = Path(weights) if weights is not None else _require_shipped_int8()
            self.backend: Any = _int8_backend(path, device, threads)
        elif backend == "onnx":
            path = Path(weights) if weights is not None else _require_shipped()
            self.backend = _onnx_backend(path, device, threads)
        else:
            from mobilegan.optional import import_needing_torch

            TorchBackend = import_needing_torch("mobilegan.inference.torch_backend",
                                                "backend='torch' (the default)").TorchBackend
            path = Path(weights) if weights is not None else _require_shipped()
            if path.suffix.lower() == ".onnx":  # else: "no such file: <name>.json"
                raise ValueError(f"{path} is an ONNX file: run it with backend='onnx' (or "
                                 f"'int8' for an int8 export; `--backend` of `mobilegan "
                                 f"segment`); the torch backend needs a .safetensors file "
                                 f"with its .json")
            self.backend = TorchBackend.from_weights(path, device=device, threads=threads,
                                                     seed=seed)
        if samples > 1 and not self.backend.can_sample:
            raise ValueError("samples > 1: this network has no noise z to sample")
        #: The weights file the network came from (None for :meth:`from_module`).
        self.weights: Path | None = path
        if image_size is None:  # the size the weights were trained at, as evaluation uses
            self._set_image_size(getattr(self.backend, "image_size", None) or DEFAULT_IMAGE_SIZE,
                                 "the image_size the weights record (else pass image_size=...)")

    @classmethod
    def from_pretrained(cls, backend: Literal["torch", "onnx", "int8"] = "torch",
                        **kw: Any) -> "Segmenter":
        """The shipped MobileGAN weights (no network access; ``backend="int8"``: their int8
        ONNX twin); FileNotFoundError if absent."""
        if "weights" in kw:
            raise TypeError("from_pretrained loads the shipped weights; for your own, call "
                            "Segmenter(weights=...) with the same options")
        return cls(weights=None, backend=backend, **kw)

    @classmethod
    def from_module(cls, model: Any, image_size: int = 128, tta: bool = False,
                    samples: int = 1, postprocess: bool = True, threshold: float = 0.5,
                    threads: int | None = None, device: str | None = None,
                    low_confidence_below: float | None = None,
                    seed: int | None = None, exposure: bool = True,
                    max_pixels: int | None = None) -> "Segmenter":
        """Wrap a network already in memory (evaluation, tests) with the torch backend.

        The network stays on its device unless ``device`` names another (then it is moved)
        and keeps its training/eval mode between calls; torch's thread count changes only
        if ``threads`` is given."""
        from mobilegan.inference.torch_backend import TorchBackend

        self = cls.__new__(cls)
        self._configure(image_size, tta, samples, postprocess, threshold, low_confidence_below,
                        exposure, max_pixels)
        self.backend = TorchBackend(model, device=device, threads=threads, seed=seed)
        self.weights = None
        if samples > 1 and not self.backend.can_sample:
            raise ValueError("samples > 1: this network has no noise z to sample")
        return self

    def _configure(self, image_size: int, tta: bool, samples: int, postprocess: bool,
                   threshold: float, low_confidence_below: float | None,
                   exposure: bool, max_pixels: int | None) -> None:
        self._set_image_size(image_size, "image_size")
        _check(is_int(samples) and samples >= 1, f"samples must be an int >= 1, got {samples!r}")
        _check(_is_number(threshold) and 0.0 < threshold < 1.0,
               f"threshold must be a number in (0, 1), got {threshold!r}")
        _check(low_confidence_below is None or (_is_number(low_confidence_below)
                                                and 0.0 <= low_confidence_below <= 1.0),
               f"low_confidence_below must be in [0, 1] (confidence is), got {low_confidence_below!r}")
        self.tta = tta
        self.samples = samples
        self.postprocess = postprocess
        self.threshold = threshold
        self.low_confidence_below = (low_confidence_threshold(samples, tta)
                                     if low_confidence_below is None else low_confidence_below)
        self.exposure = exposure
        _check(max_pixels is None or (is_int(max_pixels) and max_pixels >= 1),
               f"max_pixels must be an int >= 1 (or None: 50 M), got {max_pixels!r}")
        self.max_pixels = max_pixels

    def _set_image_size(self, size: int, what: str) -> None:
        _check(is_int(size) and size >= 32 and size % 16 == 0,
               f"{what} must be a multiple of 16 and >= 32, got {size!r}")
        self.image_size = int(size)

    def predict(self, image: ImageInput, id: str | None = None) -> SegmentationResult:
        """Segment one image (path, PIL image, or uint8 (H, W, 3) RGB / (H, W) array; an
        OpenCV image is BGR: pass ``image[..., ::-1]``)."""
        if id is None and isinstance(image, (str, os.PathLike)):
            id = _id_of(Path(image))
        return self.predict_batch([to_rgb(image, self.max_pixels)], [id])[0]

    def predict_many(self, paths: Iterable[str | os.PathLike],
                     batch_size: int = 8) -> Iterator[SegmentationResult]:
        """Segment files lazily, ``batch_size`` at a time in memory (fewer when they hold
        more than :data:`BATCH_PIXELS`); an unreadable file raises, after the results of
        every file before it (``mobilegan segment`` records and skips them instead)."""
        _check(is_int(batch_size) and batch_size >= 1,
               f"batch_size must be an int >= 1, got {batch_size!r}")
        _check_collection(paths, "predict_many", "paths")
        chunk: list[tuple[Path, np.ndarray]] = []
        for path in map(Path, paths):
            try:
                image = read_input_file(path, self.max_pixels)
            except Exception:
                # The files read before it were held unsegmented, and a generator that has
                # raised cannot go on: their results come first.
                yield from self._predict_read(chunk)
                raise
            if ends_batch((held for _path, held in chunk), image):
                yield from self._predict_read(chunk)
                chunk = []
            chunk.append((path, image))
            if len(chunk) == batch_size:
                yield from self._predict_read(chunk)
                chunk = []
        if chunk:
            yield from self._predict_read(chunk)

    def predict_batch(self, images: Sequence[ImageInput],
                      ids: Sequence[str | None] | None = None) -> list[SegmentationResult]:
        """Segment images of any sizes in one network call (arrays are not copied). A
        (B, H, W, 3) array is B images; a file's id is its name, as in :meth:`predict` (two
        files of one name in different folders share it: ``mobilegan segment`` suffixes
        them for its file names). Every input is read before the network runs, and an
        unreadable file raises :class:`~mobilegan.data.io.ImageReadError` for the call."""
        _check_collection(images, "predict_batch", "images")
        if isinstance(images, np.ndarray) and images.ndim != 4:
            raise ValueError(f"predict_batch takes a list of images or a (B, H, W, C) array, "
                             f"got an array of shape {images.shape}; use predict for one image")
        images = list(images)
        if len(images) == 0:
            return []
        ids = list(ids) if ids is not None else [None] * len(images)
        _check(len(ids) == len(images), "one id per image")
        ids = [_id_of(Path(image)) if id is None and isinstance(image, (str, os.PathLike))
               else None if id is None else str(id) for image, id in zip(images, ids)]
        images = [to_rgb(image, self.max_pixels) for image in images]
        # Brightened lazily: prepare_batch shrinks each before the next is made, so no more
        # than one full-size brightened copy is held at once.
        network_input = (normalize_exposure(im) if self.exposure else im for im in images)
        mean, variance = self._probabilities(prepare_batch(network_input, self.image_size))
        return [self._finish(image, mean[i], None if variance is None else variance[i], ids[i])
                for i, image in enumerate(images)]

    # -- internals -------------------------------------------------------------------------

    def _predict_read(self, chunk: list[tuple[Path, np.ndarray]]) -> list[SegmentationResult]:
        return self.predict_batch([image for _path, image in chunk],
                                  [_id_of(path) for path, _image in chunk])

    def _probabilities(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean lesion probability (B, S, S) and its variance over noise samples (or None)."""
        # TTA over the whole flip group {id, h, v, hv}: a mirrored image then gives the
        # exactly mirrored map. Rows are image-major (an image's views side by side), so a
        # chunk holds whole images and a seeded backend draws per image, not per view.
        views = [batch, batch[..., ::-1], batch[..., ::-1, :], batch[..., ::-1, ::-1]] \
            if self.tta else [batch]
        v, b, s = len(views), batch.shape[0], self.image_size
        x = np.stack(views, axis=1).reshape(v * b, *batch.shape[1:])  # (B*V, 3, S, S)
        sampling = self.samples > 1
        if sampling:  # (N, B*V, 1, S, S): the encoder runs once, the decoder N times
            step = max(1, MAX_FORWARD_BATCH // (self.samples * v)) * v
            logits = np.concatenate([self.backend.sample_logits(x[i:i + step], self.samples,
                                                                group=v)
                                     for i in range(0, len(x), step)], axis=1)
        else:
            step = max(1, MAX_FORWARD_BATCH // v) * v
            logits = np.concatenate([self.backend.logits(x[i:i + step])
                                     for i in range(0, len(x), step)])[None]
        p = expit(logits[:, :, 0]).astype(np.float32).reshape(self.samples, b, v, s, s)
        if self.tta:  # undo each view's flip before averaging
            p[:, :, 1] = p[:, :, 1, ..., ::-1].copy()
            p[:, :, 2] = p[:, :, 2, ..., ::-1, :].copy()
            p[:, :, 3] = p[:, :, 3, ..., ::-1, ::-1].copy()
        p = p.mean(axis=2)  # (N, B, S, S)
        return p.mean(axis=0), (p.var(axis=0) if sampling else None)

    def _finish(self, image: np.ndarray, mean: np.ndarray, variance: np.ndarray | None,
                id: str | None) -> SegmentationResult:
        height, width = image.shape[:2]
        # The evaluation's own resize (metrics.isic): a mask here is the mask it scores.
        probability = np.clip(resize_probability(mean, (height, width)), 0.0, 1.0)
        uncertainty = (None if variance is None else
                       np.maximum(resize_probability(variance, (height, width)), 0.0))
        mask = probability > self.threshold
        dropped = 0.0
        if self.postprocess:
            mask, dropped = postprocess.clean_mask_and_dropped(mask)
        # On the network's own grid: bilinear upsampling would draw a ramp across every
        # border and make the score depend on the image's size.
        score = postprocess.confidence(mean)
        area = int(mask.sum())
        # No lesion found in a picture meant to show one (a blank frame, a lesion off the
        # image), or a picture far from a dermoscopy image's shape, deserves the same look,
        # whatever the score says.
        reason = ("no_lesion" if area == 0 else
                  "shape" if max(height, width) >= MAX_ASPECT_RATIO * min(height, width) else
                  # a second lesion about as large, dropped by post-processing: said, not lost
                  "multiple_lesions" if dropped >= postprocess.SECOND_LESION_RATIO else
                  "low_confidence" if score < self.low_confidence_below else None)
        return SegmentationResult(
            id=id, mask=mask, probability=probability, uncertainty=uncertainty,
            confidence=score, low_confidence=reason is not None,
            area_pixels=area, area_fraction=area / float(height * width),
            bbox=postprocess.bbox(mask), review_reason=reason)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def is_int(value: Any) -> bool:
    """A whole number as a count: Python's or numpy's int, never a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _check_collection(items: Any, method: str, what: str) -> None:
    """One path or image where a collection of them is expected is a TypeError, not a
    string read letter by letter as file names."""
    if isinstance(items, (str, bytes, os.PathLike, Image.Image)):
        raise TypeError(f"{method} takes a list of {what}, got one {type(items).__name__}; "
                        f"wrap it in a list, or use predict")


def _id_of(path: Path) -> str:
    from mobilegan.data.layouts import image_id

    return image_id(path)


def _require_shipped() -> Path:
    path = shipped_weights()
    if not path.is_file():
        if os.environ.get(WEIGHTS_ENV):
            raise FileNotFoundError(f"${WEIGHTS_ENV} names {path}, which does not exist "
                                    f"(unset it to use the shipped weights)")
        raise FileNotFoundError(
            f"MobileGAN's shipped weights are not installed (looked for {path}). Pass "
            f"weights=... (--weights on the command line: a .safetensors from `mobilegan "
            f"train`, or an .onnx export) or set ${WEIGHTS_ENV}.")
    return path


def _require_shipped_int8() -> Path:
    path = shipped_int8()
    if not path.is_file():
        raise FileNotFoundError(
            f"no shipped int8 model at {path}. Make one with `mobilegan export --quantize int8 "
            f"--calibration TRAINING_IMAGES` and pass it as weights=...")
    return path


def _int8_backend(path: Path, device: str, threads: int | None) -> Any:
    """A session for ``path`` if it is an int8 ONNX file written by ``mobilegan export
    --quantize int8`` (the session reads that from the file's metadata)."""
    if path.suffix.lower() != ".onnx" or not path.is_file():
        raise ValueError(f"backend='int8' needs an int8 .onnx file (from `mobilegan export "
                         f"--quantize int8`), got {path}")
    backend = _onnx_backend(path, device, threads)
    if backend.name != "int8":
        raise ValueError(f"{path} is a float ONNX file: use backend='onnx' for it, or quantise "
                         f"it with `mobilegan export --quantize int8`")
    return backend


def _onnx_backend(path: Path, device: str, threads: int | None) -> Any:
    """An ONNX session for ``path``: used as is when it is .onnx, else exported first
    (that step needs torch) to a temporary file that is gone once the session holds it."""
    from mobilegan.inference.onnx_backend import OnnxBackend

    if path.suffix.lower() == ".onnx":
        return OnnxBackend(path, device=device, threads=threads)
    if importlib.util.find_spec("torch") is None:
        raise ModuleNotFoundError(
            f"backend 'onnx' with {path.name} exports it to ONNX first, which needs torch "
            f"(not installed here): pass an exported .onnx file as the weights (`mobilegan "
            f"export` on a machine with torch), or use backend 'int8' (the shipped int8 "
            f"file needs no torch)")
    from mobilegan.inference.torch_backend import export_weights_to_onnx

    with tempfile.TemporaryDirectory(prefix="mobilegan-onnx-") as tmp:
        onnx_path = export_weights_to_onnx(path, Path(tmp) / "model.onnx")
        return OnnxBackend(onnx_path, device=device, threads=threads)
