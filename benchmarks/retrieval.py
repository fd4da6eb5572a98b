"""Knowledge-store retrieval: FAISS index types and BM25 libraries, by store size.

Dense: synthetic L2-normalised float32 vectors (dim 384, MiniLM's), indexed
with the faiss store's own build and search code; build time (train + add),
index bytes (serialised), query latency at k=16 one query at a time (p50,
p95) and as one batch, and recall@16 of HNSW / IVF / IVF-PQ against exact
(flat) search, for each efSearch / nprobe asked for.
Sparse: synthetic texts with a Zipf word distribution in the bm25 store, with
bm25s and with rank-bm25 (capped: it scores every document in Python for every
query), and how often the two give the same top 16.

    .venv/bin/python benchmarks/retrieval.py --sizes 10000,100000,1000000

Prints Markdown tables and writes benchmarks/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from retrikt_bm25.store import Bm25Store
from retrikt_faiss.indexes import build_index, index_bytes, plan_index, search_index
from retrikt_faiss.store import FaissStoreOptions

from retrikt_core.records import Example, Knowledge

K = 16


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def percentiles(seconds: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")
    return {"p50_ms": 1000 * statistics.median(seconds), "p95_ms": 1000 * cuts[18]}


def timed(fn, *args) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def vectors(n: int, dim: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``gaussian``: uniform on the sphere, no structure (the hard case);
    ``clustered``: noisy copies of 1 000 centres, closer to real embeddings."""
    if kind == "gaussian":
        data = rng.standard_normal((n, dim), dtype=np.float32)
    else:
        centres = rng.standard_normal((1000, dim), dtype=np.float32)
        data = centres[rng.integers(0, 1000, n)]
        data += 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
    faiss.normalize_L2(data)
    return data


def sst2_vectors(size: int, queries: int, dim: int, data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """Real text instead of synthetic vectors: SST-2 train sentences (the
    store, at most 67,349) and dev sentences (the queries), keyed with the
    static all-MiniLM-L6-v2 vectors of retrikt-students (mean of word-piece
    vectors, ``dim`` <= 384)."""
    import csv

    from retrikt_students import static_vectors

    def read(split: str) -> list[Example]:
        with open(Path(data_dir) / "sst2" / f"{split}.tsv", newline="", encoding="utf-8") as handle:
            rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            return [Example(row["sentence"]) for row in rows]

    train, dev = read("train"), read("dev")
    if size > len(train):
        raise SystemExit(
            f"--vectors sst2-static: SST-2 train has {len(train)} sentences, not {size}"
        )
    return static_vectors.encode(train[:size], dim), static_vectors.encode(dev[:queries], dim)


def dense_rows(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = np.random.default_rng(size)
    if args.vectors == "sst2-static":
        base, queries = sst2_vectors(size, args.queries, args.dim, args.data_dir)
    else:
        base = vectors(size, args.dim, args.vectors, rng)
        queries = vectors(args.queries, args.dim, args.vectors, rng)
    nlist = args.nlist or max(1, round(np.sqrt(size)))
    rows = []
    truth = None
    for kind in ["flat", *args.indexes.split(",")]:
        options = FaissStoreOptions(
            index=kind,
            hnsw_m=args.hnsw_m,
            ef_construction=args.ef_construction,
            nlist=nlist,
            pq_m=args.pq_m,
        )
        plan = plan_index(options, size)
        start = time.perf_counter()
        index = build_index(plan, args.dim, base)
        index.add(base)
        build_s = time.perf_counter() - start
        nbytes = len(index_bytes(index))
        sweep = {"hnsw": ints(args.ef_search), "ivf": ints(args.nprobe), "ivfpq": ints(args.nprobe)}
        for knob in sweep.get(kind, [0]):
            ef_search = knob or options.ef_search
            nprobe = knob or options.nprobe

            def search(q, ef_search=ef_search, nprobe=nprobe, index=index, kind=kind):
                return search_index(index, kind, q, K, ef_search, nprobe)

            singles = [timed(search, queries[i : i + 1])[1] for i in range(args.single)]
            (_, found), batch_s = timed(search, queries)
            if kind == "flat":
                truth = found
            recall = float(
                np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
            )
            params = dict(plan.params)
            if kind == "hnsw":
                params["ef_search"] = ef_search
            elif kind != "flat":
                params["nprobe"] = min(nprobe, params["nlist"])
            rows.append(
                {
                    "size": size,
                    "index": kind,
                    "params": params,
                    "notes": plan.notes,
                    "build_s": build_s,
                    "index_bytes": nbytes,
                    **percentiles(singles),
                    "batch_queries": len(queries),
                    "batch_ms_per_query": 1000 * batch_s / len(queries),
                    "recall_at_16": recall,
                }
            )
            print(markdown_row(DENSE_COLUMNS, rows[-1]), flush=True)
        del index
        gc.collect()
    return rows


def zipf_texts(n: int, rng: np.random.Generator, vocab: int = 20000) -> list[str]:
    """Texts of 5-30 words drawn with Zipf frequencies (a few words occur in
    most texts, as function words do)."""
    weights = 1.0 / np.arange(1, vocab + 1)
    lengths = rng.integers(5, 31, n)
    words = rng.choice(vocab, size=int(lengths.sum()), p=weights / weights.sum())
    cuts = np.cumsum(lengths)[:-1]
    return [" ".join(f"w{w}" for w in doc) for doc in np.split(words, cuts)]


def bm25_rows(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = np.random.default_rng(size + 1)
    entries = [
        Knowledge(text, teacher_probs=(1.0,), id=str(i))
        for i, text in enumerate(zipf_texts(size, rng))
    ]
    queries = [Example(text) for text in zipf_texts(args.queries, rng)]
    rows, top = [], {}
    for library in ("bm25s", "rank-bm25"):
        row: dict[str, Any] = {"size": size, "library": library}
        rows.append(row)
        if library == "rank-bm25" and size > args.rank_bm25_max:
            row["skipped"] = (
                f"rank-bm25 scores every document in Python for each query; "
                f"capped at {args.rank_bm25_max:,} entries (--rank-bm25-max)"
            )
            continue
        # rank-bm25 takes seconds per query at 100k entries: it answers fewer.
        asked = queries if library == "bm25s" else queries[: args.rank_bm25_queries]
        store = Bm25Store(Bm25Store.Options(library=library))
        start = time.perf_counter()
        store.add(entries)
        row["index_bytes"] = store.index_bytes()  # builds the index, as a first search would
        row["build_s"] = time.perf_counter() - start
        singles = [timed(store.search, [q], K)[1] for q in asked[: args.single]]
        found, batch_s = timed(store.search, asked, K)
        top[library] = found.ids
        row |= {
            **percentiles(singles),
            "batch_queries": len(asked),
            "batch_ms_per_query": 1000 * batch_s / len(asked),
        }
        del store
        gc.collect()
    if "rank-bm25" in top:  # over the queries both answered (rank-bm25's are the first)
        pairs = list(zip(top["bm25s"], top["rank-bm25"], strict=False))
        rows[0]["same_top16_as_rank_bm25"] = sum(a == b for a, b in pairs) / len(pairs)
    for row in rows:
        print(markdown_row(BM25_COLUMNS, row), flush=True)
    return rows


DENSE_COLUMNS = [
    ("size", "entries", "{:,}"),
    ("index", "index", "{}"),
    ("params", "params", "{}"),
    ("build_s", "build s", "{:.2f}"),
    ("index_bytes", "index MB", "mb"),
    ("p50_ms", "1 query p50 ms", "{:.3f}"),
    ("p95_ms", "1 query p95 ms", "{:.3f}"),
    ("batch_ms_per_query", "batch ms/query", "{:.4f}"),
    ("recall_at_16", "recall@16", "{:.3f}"),
]
BM25_COLUMNS = [
    ("size", "entries", "{:,}"),
    ("library", "library", "{}"),
    ("build_s", "build s", "{:.2f}"),
    ("index_bytes", "index MB", "mb"),
    ("p50_ms", "1 query p50 ms", "{:.2f}"),
    ("p95_ms", "1 query p95 ms", "{:.2f}"),
    ("batch_ms_per_query", "batch ms/query", "{:.2f}"),
    ("same_top16_as_rank_bm25", "same top-16 as rank-bm25", "{:.3f}"),
    ("skipped", "note", "{}"),
]


def cell(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    if fmt == "mb":
        return f"{value / 2**20:.1f}"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return fmt.format(value)


def markdown_row(columns: list[tuple[str, str, str]], row: dict[str, Any]) -> str:
    return "| " + " | ".join(cell(row.get(key), fmt) for key, _, fmt in columns) + " |"


def markdown_table(columns: list[tuple[str, str, str]], rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "---|" * len(columns)
    return "\n".join([head, rule, *(markdown_row(columns, r) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="store sizes")
    parser.add_argument("--parts", default="dense,bm25", help="dense, bm25 or both")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument(
        "--vectors", choices=["gaussian", "clustered", "sst2-static"], default="gaussian"
    )
    parser.add_argument("--data-dir", default="../shared/data", help="for --vectors sst2-static")
    parser.add_argument("--indexes", default="hnsw,ivf,ivfpq", help="compared with flat")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument("--ef-search", default="16,64,128,256", help="HNSW values to sweep")
    parser.add_argument("--nlist", type=int, default=0, help="IVF lists; 0 = sqrt(size)")
    parser.add_argument("--nprobe", default="8,16,64", help="IVF values to sweep")
    parser.add_argument("--pq-m", type=int, default=48, help="IVF-PQ sub-quantisers (384/48=8)")
    parser.add_argument("--queries", type=int, default=1000, help="queries in the batch")
    parser.add_argument("--single", type=int, default=200, help="queries timed one by one")
    parser.add_argument("--rank-bm25-max", type=int, default=100000)
    parser.add_argument("--rank-bm25-queries", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="faiss threads; 0 = all")
    parser.add_argument("--out", default="benchmarks/results/retrieval.json")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "k": K,
        "args": vars(args),
        "dense": [],
        "bm25": [],
    }
    parts = args.parts.split(",")
    for size in ints(args.sizes):
        if "dense" in parts:
            print(f"\n## dense, {size:,} entries\n\n" + markdown_table(DENSE_COLUMNS, []))
            results["dense"] += dense_rows(size, args)
        if "bm25" in parts:
            print(f"\n## bm25, {size:,} entries\n\n" + markdown_table(BM25_COLUMNS, []))
            results["bm25"] += bm25_rows(size, args)
    print("\n## dense stores\n\n" + markdown_table(DENSE_COLUMNS, results["dense"]))
    print("\n## bm25 stores\n\n" + markdown_table(BM25_COLUMNS, results["bm25"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
