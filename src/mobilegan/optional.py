"""Say what to install when a part of the library that needs PyTorch is used without it.

The package's core (segmenting with the shipped int8 model through ONNX Runtime) needs no
torch; training, evaluation and the torch backend do. Without this, their first use ended
in a traceback about ``import torch`` several modules down.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_TORCH = "pip install torch==2.13.0 -e '.[torch]' in the mobilegan checkout"


def import_needing_torch(module: str, what: str) -> ModuleType:
    """``module`` imported, or a ModuleNotFoundError (``name="torch"``, as the command line
    reads it) saying that ``what`` needs PyTorch, how to install it and what runs without it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "torch":
            raise
        raise ModuleNotFoundError(
            f"{what} needs PyTorch, which is not installed here: {INSTALL_TORCH} (README, "
            f"Install). Without it, Segmenter(backend='int8') segments with the shipped int8 "
            f"model (ONNX Runtime only).", name="torch") from None
