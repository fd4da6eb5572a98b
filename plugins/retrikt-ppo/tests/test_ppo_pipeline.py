"""`retrikt run` with optimizer = "ppo" on a tiny random LM: the reinforce stage
trains the prompts, keeps a per-step history, and the report plots it."""

from __future__ import annotations

import json

from retrikt_core.plugins import reset_plugins
from retrikt_core.testing.runs import run_config, task_section, write_sentiment_csv


def test_ppo_stage_history_and_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    reset_plugins()
    data = write_sentiment_csv(tmp_path / "data")
    metrics = run_config(
        task_section(data)
        + """
[generator]
plugin = "llm"
model = "tiny-random-llama"
virtual_tokens = 4
epochs = 2
max_new_tokens = 8
gen_batch_size = 4
[teacher]
plugin = "bow-lr"
dim = 256
epochs = 20
[optimizer]
plugin = "ppo"
steps = 2
rollout_size = 4
minibatch_size = 4
ppo_epochs = 1
[extract]
n_per_label = 4
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
""",
        tmp_path / "run",
        tmp_path,
    )
    assert set(metrics["methods"]) == {"teacher", "kshot_student", "kd_student", "retrikt_student"}
    run = tmp_path / "run"
    history = [
        json.loads(line)
        for line in (run / "stages/reinforce/history.jsonl").read_text().splitlines()
    ]
    assert len(history) == 4
    for key in (
        "reward",
        "reward_quality",
        "reward_diversity",
        "reward_degenerate",
        "kl",
        "entropy",
        "clip_fraction",
        "value_loss",
        "kl_coef",
    ):
        assert key in history[0]
    assert (run / "reinforce.png").stat().st_size > 0
    assert "reinforce.png" in (run / "report.md").read_text()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["reinforce"]["counts"]["steps"] == 4
    reset_plugins()
