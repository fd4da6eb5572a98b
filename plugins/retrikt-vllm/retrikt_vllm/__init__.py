"""retrikt-vllm: the ``llm`` generator and teacher with vLLM doing the
inference.

Tuning stays in torch (peft soft prompts, unchanged); sampling and labelling
go to a vLLM engine, the tuned soft prompts travelling as prompt embeddings.
Importing this module does not import vLLM: that happens when an engine is
first needed, so ``retrikt plugins`` works where vLLM is not installed.
"""

from retrikt_core.api import hookimpl
from retrikt_vllm.generator import VLLMGenerator
from retrikt_vllm.teacher import VLLMTeacher


@hookimpl
def register_generators(register):
    register(VLLMGenerator)


@hookimpl
def register_teachers(register):
    register(VLLMTeacher)
