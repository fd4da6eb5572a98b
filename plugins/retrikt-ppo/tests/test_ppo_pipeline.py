"""`retrikt run` with optimizer = "ppo" on a tiny random LM: the reinforce stage
trains the prompts, keeps a per-step history, and the report plots it."""

from __future__ import annotations

import csv
import json

from retrikt_core.config import load_toml, validate
from retrikt_core.pipeline import Pipeline
from retrikt_core.plugins import get_plugins, reset_plugins


def test_ppo_stage_history_and_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    reset_plugins()
    data = {}
    for split, n in (("train", 12), ("eval", 6)):
        path = tmp_path / f"{split}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for i in range(n):
                writer.writerow(
                    [["dull and bad film", "great and warm film"][i % 2] + f" {i}", i % 2]
                )
        data[split] = path
    config = tmp_path / "c.toml"
    config.write_text(f"""
[task]
plugin = "files"
train_file = "{data["train"]}"
eval_file = "{data["eval"]}"
label_names = ["negative", "positive"]
k_shot = 3
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
""")
    plugins = get_plugins()
    pipeline = Pipeline(validate(load_toml(config), plugins.registry), plugins, tmp_path / "run")
    pipeline.run()
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
