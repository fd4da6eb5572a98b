"""retrikt-transformers: LLM components over Hugging Face transformers + peft.

Importing this module stays light: torch and transformers load when a
component is first used, so ``retrikt plugins`` and ``--help`` stay fast.
"""

from retrikt_core.api import hookimpl
from retrikt_transformers.generator import LLMGenerator
from retrikt_transformers.teacher import LLMTeacher


@hookimpl
def register_generators(register):
    register(LLMGenerator)


@hookimpl
def register_teachers(register):
    register(LLMTeacher)
