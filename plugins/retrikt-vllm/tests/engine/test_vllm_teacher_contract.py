"""The vllm teacher against the shared teacher contract, on SmolLM2-135M."""

from __future__ import annotations

from retrikt_core.testing.teacher_contract import TeacherContract


class TestVLLMTeacher(TeacherContract):
    """Verbalizer scores computed by vLLM, with a soft prompt tuned in torch."""

    invalid_options = [({"kv_cache_gb": 0}, "kv_cache_gb")]

    def make_teacher(self, tmp_path):
        from retrikt_vllm.teacher import VLLMTeacher, VLLMTeacherOptions

        return VLLMTeacher(VLLMTeacherOptions(virtual_tokens=2, epochs=1, max_length=64))
