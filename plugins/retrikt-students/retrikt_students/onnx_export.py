"""Export the tiny transformer student (soft prompt, encoder, head) to ONNX
with torch.onnx, and optionally an int8 dynamically quantised copy with
onnxruntime. Retrieval and the kNN interpolation are not in the graph: the
store searches with its own library and the interpolation is core's numpy
code, exactly as for the PyTorch student.

Needs the ``onnx`` extra (``pip install "retrikt-students[onnx]"``): onnx and
onnxscript (torch.onnx's exporter) and onnxruntime (quantisation, and the
runtime in :mod:`retrikt_students.onnx_runtime`).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrikt_core.api import atomic_write_json

if TYPE_CHECKING:
    from retrikt_students.training import RetrievalStudent

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
ONNX_META = "onnx.json"
OPSET = 18
INPUT = "ids"
OUTPUT = "probs"
# The unit-length pooled representation: the query of a student that
# retrieves in its own space (learned retrieval); unused otherwise.
QUERY_OUTPUT = "query"
QUANTIZATIONS = ("int8",)


def _probabilities_module(model: Any) -> Any:
    """The student's model with a softmax on top, and its query:
    ``ids [n, L] -> (probs [n, C], query [n, d])``."""
    import torch

    class Probabilities(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, pooled = self.inner.logits_and_pooled(ids)
            return logits.softmax(-1), torch.nn.functional.normalize(pooled, dim=-1)

    return Probabilities(model).eval()


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' chatter (torchvision ops that are not installed,
    deprecations inside torch.export, onnxruntime's pre-processing hint)."""
    root = logging.getLogger()
    loggers = [logging.getLogger("torch.onnx"), logging.getLogger("torch.export"), root]
    levels = [logger.level for logger in loggers]
    # The quantiser logs on the root logger; a handler stops logging from
    # installing its default stderr one.
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        root.removeHandler(guard)


def _missing(package: str) -> RuntimeError:
    return RuntimeError(
        f"ONNX export needs {package}: pip install 'retrikt-students[onnx]' "
        "(onnx, onnxscript, onnxruntime; none of them pulls torch)"
    )


def export_student(
    student: RetrievalStudent, path: Path, quantize: str | None = None
) -> dict[str, str]:
    """Write ``model.onnx`` (and ``model.int8.onnx`` for ``quantize="int8"``)
    plus ``onnx.json`` into ``path``; returns ``{runtime: file}``."""
    import importlib.util

    import torch

    if student.model is None:
        raise RuntimeError("tiny-transformer: export_onnx before fit or load")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize: {quantize!r} is not supported; choose from {QUANTIZATIONS}")
    for package in ("onnx", "onnxscript", "onnxruntime"):
        if importlib.util.find_spec(package) is None:
            raise _missing(package)
    path.mkdir(parents=True, exist_ok=True)
    max_length = student.options.max_length
    module = _probabilities_module(student.model)
    # Example input: two rows (one padded) and at least two tokens, so that
    # torch.export keeps batch and length dynamic rather than fixing them at 1.
    width = max(2, min(max_length, 8))
    generator = torch.Generator().manual_seed(0)
    vocab_size = student.model.embed.num_embeddings
    ids = torch.randint(3, max(4, vocab_size), (2, width), generator=generator)
    ids[1, width // 2 :] = 0
    length = torch.export.Dim("length", min=1, max=max(2, max_length))
    batch = torch.export.Dim("batch", min=1)
    files = {"onnx": ONNX_FILE}
    with _quiet():
        torch.onnx.export(
            module,
            (ids,),
            str(path / ONNX_FILE),
            dynamo=True,
            external_data=False,
            input_names=[INPUT],
            output_names=[OUTPUT, QUERY_OUTPUT],
            dynamic_shapes={"ids": {0: batch, 1: length}},
            opset_version=OPSET,
            verbose=False,
        )
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Only the Gathers, i.e. the token (and position) embeddings, which hold
            # nearly all the weights: int8 matmuls as well changed up to 2.9% of
            # labels, embeddings alone at most 0.7%, for 0.3 MB more
            # (benchmarks/int8_ops.py). Weights only: no batch-dependent scales.
            quantize_dynamic(
                path / ONNX_FILE,
                path / INT8_FILE,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Gather"],
            )
            files["onnx-int8"] = INT8_FILE
    atomic_write_json(
        path / ONNX_META,
        {
            "files": files,
            "input": INPUT,
            "output": OUTPUT,
            "query_output": QUERY_OUTPUT,
            "opset": OPSET,
            "params": student.num_parameters(),
            "max_length": max_length,
            "exporter": f"torch.onnx (dynamo) from torch {torch.__version__}",
            "quantization": {
                "onnx-int8": "onnxruntime quantize_dynamic, QInt8 weights of Gather (embeddings)"
            }
            if quantize
            else {},
        },
    )
    return files


def read_meta(path: Path) -> dict[str, Any]:
    """``onnx.json`` of an export."""
    meta_path = path / ONNX_META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: missing; not an ONNX export of tiny-transformer")
    return json.loads(meta_path.read_text())
