"""The ray executor on a local Ray (2 CPUs): the same knowledge (labels,
generated samples, store keys) as the local executor with 1 and 2 actors, a
stage cut short resumes from its finished shards, a dead actor's shard is
rerun once, bad options stop a run before any stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from retrikt_ray.executor import RayExecutor, RayOptions

from retrikt_core.builtin.local_executor import LocalExecutor, LocalOptions
from retrikt_core.errors import ConfigError
from retrikt_core.execution import ShardFolder, ShardWork, run_sharded
from retrikt_core.pipeline import runner
from retrikt_core.testing.runs import make_pipeline, write_config, write_sentiment_files

# Corpus knowledge (the train split's own texts) labelled by the bag-of-words
# teacher, in shards of 16 rows: several shards per run.
CORPUS = """
[generator]
plugin = "corpus"
[extract]
n_total = 50
teacher_batch_size = 8
"""
TINY_LLM_TEACHER = """
[teacher]
plugin = "llm"
model = "tiny-random-llama"
virtual_tokens = 2
epochs = 1
batch_size = 8
"""


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def corpus_config(tmp_path: Path, name: str, teacher: str = "") -> Path:
    data = write_sentiment_files(tmp_path / "data")
    config = write_config(tmp_path / f"{name}.toml", data, tmp_path / name)
    text = config.read_text().replace('[generator]\nplugin = "template"\n', "")
    text = text.replace("[extract]\nn_per_label = 40\n", "")
    if teacher:
        start = text.index("[teacher]")
        end = text.index("[optimizer]")
        text = text[:start] + text[end:]
    config.write_text(text + CORPUS + teacher)
    return config


def knowledge_after(tmp_path: Path, name: str, overrides: list[str], teacher: str = "") -> bytes:
    run_dir = tmp_path / name
    make_pipeline(corpus_config(tmp_path, name, teacher), run_dir, overrides).run()
    assert not (run_dir / "stages" / "extract.shards").exists(), "shards go once committed"
    return (run_dir / "stages" / "extract" / "knowledge.jsonl").read_bytes()


RAY = ["executor.plugin=ray", "executor.batch_size=16"]


@pytest.mark.parametrize("teacher", ["", TINY_LLM_TEACHER], ids=["bow-lr", "tiny-llm"])
def test_local_and_ray_with_one_and_two_actors_write_the_same_knowledge(tmp_path, teacher):
    local = knowledge_after(tmp_path, "local", ["executor.batch_size=16"], teacher)
    one = knowledge_after(tmp_path, "one", [*RAY, "executor.actors=1"], teacher)
    two = knowledge_after(tmp_path, "two", [*RAY, "executor.actors=2"], teacher)
    assert len(local.splitlines()) == 50
    assert one == local
    assert two == local


TINY_LLM_GENERATOR = """[generator]
plugin = "llm"
model = "tiny-random-llama"
virtual_tokens = 2
epochs = 1
max_new_tokens = 8
gen_batch_size = 4
"""
# Three seeded chunks per label; MiniLM store keys (computed on the executor)
# in shards of one 64-row encoder batch.
GENERATION = [
    "extract.n_per_label=40",
    "extract.generation_chunk=16",
    "extract.min_words=1",
    "store.plugin=faiss",
    "store.encoder=minilm",
]


def generated_after(tmp_path: Path, name: str, overrides: list[str]) -> tuple[bytes, bytes]:
    data = write_sentiment_files(tmp_path / "data")
    config = write_config(tmp_path / f"{name}.toml", data, tmp_path / name)
    text = config.read_text().replace('[generator]\nplugin = "template"\n', TINY_LLM_GENERATOR)
    config.write_text(text)
    run_dir = tmp_path / name
    make_pipeline(config, run_dir, [*GENERATION, "executor.batch_size=8", *overrides]).run()
    stages = run_dir / "stages"
    return (
        (stages / "extract" / "knowledge.jsonl").read_bytes(),
        (stages / "index" / "store" / "index.faiss").read_bytes(),
    )


def test_generation_and_store_keys_on_ray_match_the_local_executor(tmp_path):
    local, local_keys = generated_after(tmp_path, "local", [])
    assert len(local.splitlines()) > 64, "samples of both labels, keys in two shards"
    for actors in (1, 2):
        knowledge, keys = generated_after(
            tmp_path, f"ray{actors}", ["executor.plugin=ray", f"executor.actors={actors}"]
        )
        assert knowledge == local
        assert keys == local_keys


class StopAfterFirstShard:
    """Delegates to the configured executor, and interrupts the stage once its
    first shard is saved (as a kill would, but in-process)."""

    def __init__(self, executor):
        self.executor = executor
        self.shard_rows = executor.shard_rows

    def run(self, work, shards):
        for done in self.executor.run(work, shards):
            yield done
            raise KeyboardInterrupt

    def close(self):
        self.executor.close()


def test_a_ray_extract_cut_short_resumes_from_its_finished_shards(tmp_path, monkeypatch):
    expected = knowledge_after(tmp_path, "local", ["executor.batch_size=16"])
    real = runner.Pipeline.executor
    monkeypatch.setattr(runner.Pipeline, "executor", lambda self: StopAfterFirstShard(real(self)))
    with pytest.raises(KeyboardInterrupt):
        knowledge_after(tmp_path, "cut", RAY)
    shards = sorted((tmp_path / "cut" / "stages" / "extract.shards" / "labels").glob("shard-*"))
    assert len(shards) == 1, "the shard that finished was saved"
    monkeypatch.undo()
    calls = []
    original = RayExecutor.run
    monkeypatch.setattr(
        RayExecutor,
        "run",
        lambda self, work, todo: calls.append(len(todo)) or original(self, work, todo),
    )
    # The rerun labels only the shards that had not finished...
    config = tmp_path / "cut.toml"
    make_pipeline(config, tmp_path / "cut", RAY).run()
    assert calls == [3], "4 shards of 16 rows, 1 kept; hashed keys are computed in place"
    # ...and the knowledge is what an uninterrupted run writes.
    assert (tmp_path / "cut" / "stages" / "extract" / "knowledge.jsonl").read_bytes() == expected


class DiesOnce(ShardWork):
    """Doubles numbers; the first worker to reach shard 1 dies mid-shard."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, rows):
        if rows[0]["x"] == 10 and not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)
        return [2 * row["x"] for row in rows]


def test_an_actor_that_dies_is_replaced_and_nothing_is_lost_or_doubled(tmp_path):
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    rows = [{"x": x} for x in range(40)]
    executor = RayExecutor(RayOptions(actors=2, batch_size=10))
    folder = ShardFolder(tmp_path / "shards", "k")
    marker = tmp_path / "died"
    out = run_sharded(executor, DiesOnce(str(marker)), rows, 10, folder, "doubling")
    assert marker.exists(), "an actor died"
    assert out == [2 * x for x in range(40)]
    local = run_sharded(
        LocalExecutor(LocalOptions()),
        DiesOnce(str(marker)),
        rows,
        10,
        ShardFolder(tmp_path / "again", "k"),
        "doubling",
    )
    assert local == out


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("executor.actors=0", "executor.actors"),
        ("executor.batch_size=-1", "executor.batch_size"),
        ("executor.gpus_per_actor=-1", "executor.gpus_per_actor"),
        ("executor.adress='x'", "executor.adress"),
        ("executor.plugin=rya", "executor"),
    ],
)
def test_bad_executor_options_stop_the_run_before_any_stage(tmp_path, override, field):
    config = corpus_config(tmp_path, "run")
    with pytest.raises((ConfigError, LookupError)) as info:
        make_pipeline(config, tmp_path / "run", ["executor.plugin=ray", override]).run()
    assert field in str(info.value)
    assert not (tmp_path / "run" / "stages").exists()


def test_the_executor_is_not_part_of_what_a_run_computes(tmp_path):
    """Switching executors reuses every finished stage."""
    knowledge_after(tmp_path, "run", ["executor.batch_size=16"])
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    pipeline = make_pipeline(tmp_path / "run.toml", tmp_path / "run", RAY)
    before = {name: record["key"] for name, record in manifest["stages"].items()}
    pipeline.run()
    after = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]
    assert {name: record["key"] for name, record in after.items()} == before
    assert all(after[name] == manifest["stages"][name] for name in before)


def test_a_local_run_does_not_import_ray(tmp_path):
    """Ray is optional: the default executor never imports it."""
    config = corpus_config(tmp_path, "run")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from retrikt_core.testing.runs import make_pipeline\n"
        f"make_pipeline(Path({str(config)!r}), Path({str(tmp_path / 'run')!r})).run()\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "metrics.json").is_file()
