"""``retrikt run`` with the vLLM generator and teacher: the run finishes,
PPO samples through the engine, and a run stopped after ``extract`` resumes
without recomputing what it had finished. Run through the CLI in a
subprocess, as users do: vLLM starts its worker with ``spawn``."""

from __future__ import annotations

import json
import subprocess
import sys

from retrikt_core.testing.runs import task_section, write_sentiment_csv

ENGINE_RUN = """
[generator]
plugin = "vllm"
virtual_tokens = 4
epochs = 1
max_new_tokens = 16
[teacher]
plugin = "vllm"
virtual_tokens = 4
epochs = 1
[optimizer]
plugin = "ppo"
steps = 1
rollout_size = 4
minibatch_size = 4
ppo_epochs = 1
[extract]
n_per_label = 6
min_words = 1
[store]
plugin = "memory"
dim = 128
[retriever]
plugin = "knn"
k = 2
[student]
plugin = "bow-knn"
dim = 128
epochs = 5
"""


def retrikt(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "retrikt_core.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_a_run_on_the_engine_finishes_and_resumes(tmp_path):
    data = write_sentiment_csv(tmp_path / "data")
    config = tmp_path / "run.toml"
    config.write_text(task_section(data) + ENGINE_RUN)
    run_dir = tmp_path / "run"
    first = retrikt("run", str(config), "--run-dir", str(run_dir), "--until", "extract")
    assert first.returncode == 0, first.stderr[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    before = {
        name: manifest["stages"][name] for name in ("teacher", "tune", "reinforce", "extract")
    }
    assert before["reinforce"]["counts"]["steps"] == 2  # a step per label, sampled by vLLM
    assert before["extract"]["counts"]["generated"] == 12
    knowledge = [
        json.loads(line)
        for line in (run_dir / "stages/extract/knowledge.jsonl").read_text().splitlines()
    ]
    assert knowledge and all(k["provenance"]["generator"] == "vllm" for k in knowledge)
    assert all(abs(sum(k["teacher_probs"]) - 1) < 1e-5 for k in knowledge)

    second = retrikt("run", str(config), "--run-dir", str(run_dir))
    assert second.returncode == 0, second.stderr[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for name, record in before.items():  # finished stages were kept, not redone
        assert manifest["stages"][name] == record
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"teacher", "kd_student", "retrikt_student"} <= set(metrics["methods"])
