"""Generated bad input: `--set` values of every kind for every option, and
data files with broken encodings, quotes, fields and labels. Whatever comes
in, a command exits 0 or 2; a 2 prints one `error:` line that names the
option or the file, never a traceback; and the run directory it leaves is
read by `show` and `predict` without a traceback either."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from retrikt_core.config.schema import config_schema
from retrikt_core.plugins import Plugins
from retrikt_core.testing.runs import fast_config, task_section, write_sentiment_files

runner = CliRunner(env={"COLUMNS": "1000"})  # no line wraps inside file names
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

COMPONENTS = {
    "task": "files",
    "generator": "corpus",
    "teacher": "bow-lr",
    "optimizer": "none",
    "store": "memory",
    "retriever": "knn",
    "student": "bow-knn",
}


def option_keys() -> list[str]:
    """``section.key`` of every option the config above can set."""
    plugins = Plugins()
    plugins.load_entry_points({"builtin"})
    schema = config_schema(plugins.registry)
    keys = [f"{s}.{o['name']}" for s, opts in schema["core"].items() for o in opts]
    for section, name in COMPONENTS.items():
        keys += [f"{section}.{o['name']}" for o in schema["components"][section][name]["options"]]
    return sorted(keys)


KEYS = option_keys()
TOML_VALUES = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda x: (
            "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf") if math.isinf(x) else repr(x)
        )
    ),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=12).map(json.dumps),
    st.lists(st.integers(-3, 3), max_size=3).map(json.dumps),
    st.text(alphabet="ab[]{}=,.\"' ", max_size=8),  # not TOML: read as text
)


@pytest.fixture
def config_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    data = write_sentiment_files(root / "data", n_train=16, n_eval=8)
    path = root / "config.toml"
    path.write_text(fast_config(task_section(data, k_shot=4)))
    return path


def assert_clean(result, *names: str) -> None:
    """Exit 0, or exit 2 with one error line naming one of ``names``."""
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        error = result.output[result.output.find("error: ") :]
        assert result.output.startswith("error: ") or "\nerror: " in result.output, result.output
        text = " ".join(error.split())
        assert any(name in text for name in names), (names, text)


def later_commands_read_the_run(run_dir) -> None:
    for args in (["show", str(run_dir)], ["predict", str(run_dir), "a film"]):
        result = runner.invoke(app_(), args)
        assert result.exit_code in (0, 2), (args, result.output)
        assert "Traceback" not in result.output


def app_():
    from retrikt_core.cli import app

    return app


@SETTINGS
@given(key=st.sampled_from(KEYS + ["task.nope", "nosection.key", "run"]), value=TOML_VALUES)
def test_any_set_value_is_run_or_refused_naming_the_key(config_path, tmp_path, key, value):
    run_dir = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    args = ["run", str(config_path), "--set", f"{key}={value}", "--run-dir", str(run_dir)]
    result = runner.invoke(app_(), [*args, "--until", "prepare"])
    # The error names the key, or the file that the value pointed at.
    assert_clean(result, key, "--set", key.split(".")[0], "file", "task", "train.csv", "eval.csv")
    later_commands_read_the_run(run_dir)


ROW_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=20
)
LABELS = st.sampled_from(["0", "1", "2", "negative", "", "-1", "x"])


@st.composite
def csv_files(draw) -> bytes:
    """A CSV that may have a broken header, quotes, field counts, labels or bytes."""
    header = draw(st.sampled_from(["text,label", "label,text", "text", "", "text,label,extra"]))
    rows = draw(st.lists(st.tuples(ROW_TEXT, LABELS), max_size=12))
    quote = draw(st.sampled_from(["", '"', "'"]))
    lines = [header] + [f"{quote}{text}{quote},{label}" for text, label in rows]
    data = "\n".join(lines).encode("utf-8")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=6))  # bytes that may not be UTF-8
    return data


@SETTINGS
@given(train=csv_files(), eval_=csv_files(), k_shot=st.integers(1, 8))
def test_any_data_file_is_read_or_refused_naming_it(config_path, tmp_path, train, eval_, k_shot):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "train.csv").write_bytes(train)
    (folder / "eval.csv").write_bytes(eval_)
    overrides = [
        "--set",
        f'task.train_file="{folder / "train.csv"}"',
        "--set",
        f'task.eval_file="{folder / "eval.csv"}"',
        "--set",
        f"task.k_shot={k_shot}",
    ]
    check = runner.invoke(app_(), ["data", "check", str(config_path), *overrides])
    assert_clean(check, "train.csv", "eval.csv", "k_shot", "task.")
    run_dir = folder / "run"
    args = ["run", str(config_path), *overrides, "--run-dir", str(run_dir), "--until", "prepare"]
    result = runner.invoke(app_(), args)
    assert_clean(result, "train.csv", "eval.csv", "k_shot", "task ", "task.")
    later_commands_read_the_run(run_dir)
