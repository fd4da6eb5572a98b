"""One knowledge file from a finished run's own knowledge and further entries
its teacher labelled elsewhere (the ``knowledge.jsonl`` that
benchmarks/retrieval_value.py keeps), for runs whose ``knowledge`` source
should take them all without labelling them again.

The extract stage reuses a distribution only when the entry says which
teacher made it (``provenance.labelled_by``), so the added entries are marked
with the run's teacher id, after the teacher has labelled a random sample of
them again and given the same distributions (within ``--tolerance``); the
file is not written otherwise.

    .venv/bin/python benchmarks/knowledge_file.py --run runs/students/sst2-s0-compact \\
        --add runs/retrieval-value/knowledge.jsonl --out runs/students/sst2-s0-knowledge8k.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from retrikt_core.atomic import atomic_write_text
from retrikt_core.pipeline.rundir import RunDir
from retrikt_core.pipeline.stages.extract import LABELLED_BY
from retrikt_core.plugins import get_plugins
from retrikt_core.records import Knowledge, jsonl_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished run directory")
    parser.add_argument("--add", type=Path, required=True, help="entries its teacher labelled")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check", type=int, default=64, help="added entries labelled again")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()

    run = RunDir(args.run)
    own = run.read_knowledge()
    ids = {e.provenance.get(LABELLED_BY) for e in own}
    if len(ids) != 1 or None in ids:
        raise SystemExit(f"{args.run}: its knowledge names teachers {sorted(map(str, ids))}")
    teacher_id = ids.pop()
    lines = jsonl_lines(args.add.read_text(encoding="utf-8"))
    added = [Knowledge.from_dict(json.loads(line)) for _, line in lines]
    texts = {e.text for e in own}
    added = [e for e in added if e.text not in texts]

    sample = random.Random(0).sample(added, min(args.check, len(added)))
    teacher = run.load("teacher", "teacher", "teacher", get_plugins())
    again = np.asarray(teacher.predict_proba([e.example for e in sample]))
    gap = float(np.abs(again - np.asarray([e.teacher_probs for e in sample])).max())
    print(f"{len(sample)} added entries labelled again: largest probability change {gap:.2e}")
    if gap > args.tolerance:
        raise SystemExit(f"{args.add} was not labelled by the teacher of {args.run}")

    marked = [replace(e, provenance={**e.provenance, LABELLED_BY: teacher_id}) for e in added]
    lines = [json.dumps(e.to_dict()) for e in [*own, *marked]]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"{args.out}: {len(own)} entries of the run, {len(marked)} added")


if __name__ == "__main__":
    main()
