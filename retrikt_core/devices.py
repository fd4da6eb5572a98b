"""Where a torch component computes, and in which number format.

Every torch component (the ``llm`` generator and teacher, the students, the
faiss store's MiniLM encoder) has a ``device`` option (``auto``, ``cpu``,
``cuda``, ``cuda:N``, ``mps``); the ``llm`` components also have a ``dtype``
option (``auto``, ``float32``, ``bfloat16``, ``float16``). ``auto`` picks
CUDA with bfloat16 when a GPU is there and the CPU with float32 otherwise.
Trainable parameters (soft prompts, students' weights) stay in float32
whatever the model's dtype; saved artifacts are written from the CPU, and a
device a saved component names that this machine lacks falls back to
``auto``, so they load on any machine.

torch is imported only when a device is resolved.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Any

from retrikt_core.errors import OptionError

DEVICE_HELP = (
    'where it computes: "auto" (CUDA if present, else CPU), "cpu", "cuda", "cuda:N", "mps"'
)
DTYPE_HELP = (
    'number format of the frozen model: "auto" (bfloat16 on CUDA, else float32), '
    '"float32", "bfloat16", "float16"; trained parameters stay float32'
)
DTYPES = ("auto", "float32", "bfloat16", "float16")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
# Set while a saved component is rebuilt: a device it was saved with that this
# machine lacks falls back to what "auto" picks instead of refusing.
_LOADING = contextvars.ContextVar("retrikt_loading_saved", default=False)


@contextlib.contextmanager
def saved_artifact() -> Iterator[None]:
    """Rebuilding a saved component: unavailable devices fall back to ``auto``."""
    token = _LOADING.set(True)
    try:
        yield
    finally:
        _LOADING.reset(token)


def check_device(field: str, value: str) -> None:
    """For an options dataclass's ``__post_init__``: a device name retrikt knows,
    and, for an explicit GPU, one this machine has (checked when the config is
    validated, before any stage, rather than when the model loads)."""
    if not _DEVICE.match(value):
        raise OptionError(field, f'"auto", "cpu", "cuda", "cuda:N" or "mps", got {value!r}')
    if value not in ("auto", "cpu") and not _LOADING.get():
        resolve_device(value, field)


def resolve_device(device: str = "auto", field: str = "device", fallback: bool = False) -> str:
    """A concrete torch device name for ``device``; asking for a device this
    machine lacks is an :class:`OptionError` naming it, unless ``fallback`` (or
    a saved component is being rebuilt): then it is what ``auto`` picks."""
    try:
        return _resolve(device, field)
    except OptionError:
        if fallback or _LOADING.get():
            return _resolve("auto", field)
        raise


def _resolve(device: str, field: str) -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise OptionError(field, f"{device!r}: this machine has no CUDA device")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise OptionError(field, f"{device!r}: this machine has {count} CUDA device(s)")
    if device == "mps" and not torch.backends.mps.is_available():
        raise OptionError(field, "'mps': this machine has no Apple GPU")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """The torch dtype for ``dtype`` on the concrete ``device``."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def placement(device: str, dtype: str) -> tuple[str, Any]:
    """``(device name, torch dtype)`` for a component's options."""
    concrete = resolve_device(device)
    return concrete, resolve_dtype(dtype, concrete)
