"""Device and dtype options: names are checked when a config is validated,
`auto` picks CUDA with bfloat16 when a GPU is there and the CPU with float32
otherwise, and asking for a device the machine lacks names the option."""

from __future__ import annotations

import pytest

from retrikt_core.devices import check_device, placement, resolve_device
from retrikt_core.errors import OptionError


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_known_device_names_pass(name, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    check_device("device", name)


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "CPU", ""])
def test_unknown_device_names_are_refused(name):
    with pytest.raises(OptionError, match="cuda:N"):
        check_device("device", name)


def test_auto_is_the_cpu_in_float32_without_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert placement("auto", "auto") == ("cpu", torch.float32)
    assert placement("cpu", "bfloat16") == ("cpu", torch.bfloat16)


def test_auto_is_cuda_in_bfloat16_with_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert placement("auto", "auto") == ("cuda", torch.bfloat16)
    assert placement("cuda:1", "float16") == ("cuda:1", torch.float16)
    with pytest.raises(OptionError, match="has 2 CUDA device"):
        resolve_device("cuda:2")


def test_a_missing_gpu_is_named(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(OptionError, match="'cuda': this machine has no CUDA device"):
        resolve_device("cuda")
