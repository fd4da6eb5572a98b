"""The verbalizer teacher against the shared teacher contract."""

from __future__ import annotations

from retrikt_core.testing.teacher_contract import TeacherContract

LLM_BATCH_SIZE_ZERO = ({"batch_size": 0}, "batch_size")


class TestLLMTeacherZeroShot(TeacherContract):
    """The verbalizer teacher on the tiny random Llama (built in memory), no prompt."""

    invalid_options = [LLM_BATCH_SIZE_ZERO]

    def make_teacher(self, tmp_path):
        from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

        return LLMTeacher(
            LLMTeacherOptions(model="tiny-random-llama", virtual_tokens=0, max_length=64)
        )


class TestLLMTeacherSoftPrompt(TeacherContract):
    """The same with a tuned soft prompt (saved as a peft adapter)."""

    invalid_options = [LLM_BATCH_SIZE_ZERO]

    def make_teacher(self, tmp_path):
        from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

        return LLMTeacher(
            LLMTeacherOptions(
                model="tiny-random-llama", virtual_tokens=2, epochs=2, lr=0.1, max_length=64
            )
        )
