"""Config validation: every error names section.key and what is allowed."""

from __future__ import annotations

import pytest

from retrikt_core.config import ConfigError, apply_overrides, load_toml, parse_override, validate
from retrikt_core.plugins import get_plugins


def _raw(tmp_path, small_run):
    config, _, _ = small_run
    return load_toml(config)


def test_valid_config_fills_defaults(small_run):
    config = validate(load_toml(small_run[0]), get_plugins().registry)
    assert config.plugin("student") == "bow-knn"
    assert config.options("student").dim == 512
    assert config.options("student").kshot_weight == 4.0  # default filled in
    assert config.extract.n_per_label == 40


def test_unknown_option_names_section_key_and_allowed(small_run):
    raw = load_toml(small_run[0])
    raw["student"]["epochz"] = 3
    with pytest.raises(ConfigError) as err:
        validate(raw, get_plugins().registry)
    message = str(err.value)
    assert message.startswith("student.epochz: unknown option")
    assert "epochs" in message and "kshot_weight" in message
    assert "Did you mean 'epochs'?" in message


def test_wrong_type_names_key(small_run):
    raw = load_toml(small_run[0])
    raw["retriever"]["k"] = "sixteen"
    with pytest.raises(ConfigError, match=r"^retriever\.k: expected an integer, got 'sixteen'"):
        validate(raw, get_plugins().registry)


def test_int_is_accepted_for_float(small_run):
    raw = load_toml(small_run[0])
    raw["student"]["lr"] = 1
    assert validate(raw, get_plugins().registry).options("student").lr == 1.0


def test_unknown_plugin_lists_available_with_package(small_run):
    raw = load_toml(small_run[0])
    raw["teacher"]["plugin"] = "bow-lrr"
    with pytest.raises(ConfigError) as err:
        validate(raw, get_plugins().registry)
    message = str(err.value)
    assert message.startswith("teacher.plugin: unknown teacher 'bow-lrr'")
    assert "bow-lr (retrikt-core)" in message
    assert "Did you mean 'bow-lr'?" in message


def test_unknown_section(small_run):
    raw = load_toml(small_run[0])
    raw["studnet"] = {"plugin": "x"}
    with pytest.raises(ConfigError, match=r"\[studnet\]: unknown section.*Did you mean 'student'"):
        validate(raw, get_plugins().registry)


def test_missing_plugin(small_run):
    raw = load_toml(small_run[0])
    del raw["store"]["plugin"]
    with pytest.raises(ConfigError, match=r"^store\.plugin: required"):
        validate(raw, get_plugins().registry)


def test_unknown_evaluate_method(small_run):
    raw = load_toml(small_run[0])
    raw["evaluate"] = {"methods": ["teacher", "oracle"]}
    with pytest.raises(ConfigError, match=r"evaluate\.methods: unknown method 'oracle'"):
        validate(raw, get_plugins().registry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("student.epochs=5", ("student", "epochs", 5)),
        ("student.lr=0.5", ("student", "lr", 0.5)),
        ("task.plugin=rte", ("task", "plugin", "rte")),
        ("run.run_dir=runs/x y", ("run", "run_dir", "runs/x y")),
        ('evaluate.methods=["teacher"]', ("evaluate", "methods", ["teacher"])),
        ("extract.drop_duplicates=false", ("extract", "drop_duplicates", False)),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("bad", ["student.epochs", "epochs=5", "a.b.c=1"])
def test_bad_override_is_an_error(bad):
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override(bad)


def test_overrides_apply_before_validation(small_run):
    raw = apply_overrides(load_toml(small_run[0]), ["student.epochs=7", "retriever.k=2"])
    config = validate(raw, get_plugins().registry)
    assert config.options("student").epochs == 7
    assert config.options("retriever").k == 2
    with pytest.raises(ConfigError, match=r"^student\.epoch: unknown option"):
        validate(apply_overrides(raw, ["student.epoch=1"]), get_plugins().registry)


def test_config_hash_ignores_run_dir_but_not_options(small_run):
    raw = load_toml(small_run[0])
    registry = get_plugins().registry
    base = validate(raw, registry).config_hash()
    moved = validate(apply_overrides(raw, ["run.run_dir=elsewhere"]), registry).config_hash()
    changed = validate(apply_overrides(raw, ["student.epochs=3"]), registry).config_hash()
    assert base == moved
    assert base != changed


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nseed = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    bad.write_bytes("[run]\nseed = 1  # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"bad\.toml: not UTF-8 text \(byte 21: b'\\xe9'\)"):
        load_toml(bad)


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    config = tmp_path / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf[run]\nseed = 3\n")
    assert load_toml(config) == {"run": {"seed": 3}}


def test_every_numeric_option_of_the_shipped_components_declares_its_range():
    """A number outside its range is refused when the config is validated, so
    every int and float option of the core and the shipped plugins declares a
    minimum or a maximum (the example third-party plugin validates its own)."""
    from retrikt_core.config.schema import config_schema
    from retrikt_core.plugins import Plugins

    plugins = Plugins()
    plugins.load_entry_points()
    schema = config_schema(plugins.registry)
    options = [(f"{s}", o) for s, opts in schema["core"].items() for o in opts]
    options += [
        (f"{section}/{name}", o)
        for section, components in schema["components"].items()
        for name, component in components.items()
        if component["package"] != "retrikt-lexicon"
        for o in component["options"]
    ]
    unbounded = [
        f"{where}.{o['name']}"
        for where, o in options
        if o["type"] in ("int", "float") and o["minimum"] is None and o["maximum"] is None
    ]
    assert len(options) > 100
    assert not unbounded


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("extract.eval_near_duplicate=nan", r"extract\.eval_near_duplicate: must be a finite"),
        ("student.lr=inf", r"student\.lr: must be a finite"),
        ("retriever.k=-3", r"retriever\.k: must be >= 1"),
        ("task.k_shot=0", r"task\.k_shot: must be >= 1"),
        ("task.k_shot=-2", r"task\.k_shot: must be >= 1"),
        ("extract.n_total=-5", r"extract\.n_total: must be >= 0"),
        ("extract.max_words=2", r"extract\.max_words: must be >= min_words"),
        ("retriever.k=99999999999999999999999", r"retriever\.k: must fit in 64 bits"),
    ],
)
def test_out_of_range_values_are_refused_before_any_stage(small_run, override, message):
    config, _, _ = small_run
    with pytest.raises(ConfigError, match=message):
        validate(apply_overrides(load_toml(config), [override]), get_plugins().registry)


def test_running_out_of_memory_is_an_error_that_keeps_finished_work(capsys):
    import typer

    from retrikt_core.cli.app import run_or_exit

    def work():
        raise MemoryError

    with pytest.raises(typer.Exit) as stop:
        run_or_exit(work, "stages")
    assert stop.value.exit_code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert message.startswith("error: out of memory; finished stages are kept"), message
