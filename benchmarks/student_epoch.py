"""CPU seconds per training epoch of the ~2M-parameter students on real RTE
train pairs (2,000 as store entries, 32 as k-shot; `minilm-static`,
`d_model` 64, `max_length` 128, one torch thread), with and without
`length_buckets`, and for the BiLSTM also with the packed LSTM it used
before (kept here as the reference):

    .venv/bin/python benchmarks/student_epoch.py [--epochs 2]

Prints a table and writes benchmarks/results/student-epoch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from retrikt_core.atomic import atomic_write_json
from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
from retrikt_core.records import Example, Knowledge, jsonl_lines


def packed_bilstm_student(options):
    """A BiLSTM student whose encoder packs each batch (the earlier kernel)."""
    import torch
    from retrikt_students.bilstm import BiLSTMStudent
    from retrikt_students.bilstm_model import BiLSTMEncoder

    class PackedEncoder(BiLSTMEncoder):
        def states(self, x, lengths):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            out, _ = self.lstm(packed)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(
                out, batch_first=True, total_length=x.shape[1]
            )
            return out

    class PackedStudent(BiLSTMStudent):
        def _make_model(self, vocab_size, num_labels):
            o = self.options
            return PackedEncoder(
                vocab_size, num_labels, o.d_model, o.hidden, o.layers, o.pooling, o.dropout
            )

    return PackedStudent(options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir", default=os.environ.get("RETRIKT_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/student-epoch.json")
    args = parser.parse_args()

    import torch
    from retrikt_students.bilstm import BiLSTMStudent
    from retrikt_students.tiny_transformer import TransformerStudent

    torch.set_num_threads(1)
    lines = jsonl_lines((Path(args.data_dir) / "rte" / "train.jsonl").read_text(encoding="utf-8"))
    rows = [json.loads(line) for _, line in lines]
    random.Random(0).shuffle(rows)
    knowledge = [
        Knowledge(r["premise"], r["hypothesis"], teacher_probs=(0.3, 0.7), id=f"kn-{i}")
        for i, r in enumerate(rows[:2000])
    ]
    kshot = [
        Example(r["premise"], r["hypothesis"], label=int(r["label"] == "entailment"), id=f"k{i}")
        for i, r in enumerate(rows[2000:2032])
    ]
    task = FilesTask(FilesTaskOptions(label_names=["entailment", "not_entailment"]))
    common = dict(embeddings="minilm-static", d_model=64, max_length=128, epochs=args.epochs)
    makers = {
        "tiny-transformer": lambda o: TransformerStudent(TransformerStudent.Options(**o)),
        "bilstm": lambda o: BiLSTMStudent(BiLSTMStudent.Options(**o)),
        "bilstm (packed, before)": lambda o: packed_bilstm_student(BiLSTMStudent.Options(**o)),
    }
    results = []
    print("| student | length_buckets | CPU s per epoch | last loss |")
    print("|---|---:|---:|---:|")
    for name, make in makers.items():
        for buckets in (0, 16):
            student = make({**common, "length_buckets": buckets})
            started = time.process_time()
            stats = student.fit(task, kshot, knowledge, None, seed=0)
            per_epoch = (time.process_time() - started) / args.epochs
            results.append(
                {
                    "student": name,
                    "length_buckets": buckets,
                    "cpu_s_per_epoch": per_epoch,
                    "last_loss": stats["last_loss"],
                }
            )
            print(
                f"| {name} | {buckets} | {per_epoch:.1f} | {stats['last_loss']:.4f} |", flush=True
            )
    atomic_write_json(Path(args.out), {"epochs": args.epochs, "results": results})


if __name__ == "__main__":
    main()
