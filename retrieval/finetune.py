"""Fine-tune a sentence-transformers embedder on (anchor, positive, hard negative) pairs.

MultipleNegativesRankingLoss: each anchor must score its positive above its hard negative and
above every other positive and negative of its batch. Bounded in time (`max_minutes`),
checkpointed every `checkpoint_every` steps and when time runs out, and resumable: a later run
with the same pairs and options continues from the checkpoint. The model directory is written
(atomically) at the end of every run, so a run stopped by its time bound leaves a usable model.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrieval.embedders import offline_env
from retrieval.errors import ModelNotFound
from retrieval.tuning import Pair

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TuneOptions:
    base: Path  # the model to start from (a sentence-transformers directory)
    out: Path  # the new model directory
    checkpoint: Path  # where the checkpoint lives between runs
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup: float = 0.1  # share of the steps with a rising learning rate
    max_seq_length: int = 256
    max_minutes: float | None = None  # this run's time bound (None: until done)
    checkpoint_every: int = 50
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class TuneResult:
    steps_done: int
    steps_total: int
    resumed_from: int  # steps already done before this run (0: a fresh start)
    seconds: float  # this run's training time
    last_loss: float | None

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.steps_total


def fine_tune(
    pairs: Sequence[Pair], options: TuneOptions, *, on_step: Callable[[int, int], None]
) -> TuneResult:
    """Train (or continue training) on `pairs`; `on_step(done, total)` after every step."""
    if not pairs:
        raise ValueError("no training pairs: the collection has too little structured text")
    offline_env()
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(options.seed)
    fingerprint = _fingerprint(pairs, options)
    state = _load_state(options.checkpoint, fingerprint)
    start = options.checkpoint / "model" if state else options.base
    if not (start / "config.json").is_file():
        raise ModelNotFound(f"no model directory at {start}")
    model = SentenceTransformer(str(start), device=options.device, local_files_only=True)
    model.max_seq_length = options.max_seq_length
    loss = MultipleNegativesRankingLoss(model)
    batches = _batches(len(pairs), options)
    total = len(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(options.warmup * total), total)
    done = 0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        done = int(state["step"])
    resumed_from, began, last = done, time.monotonic(), None
    model.train()
    while done < total and not _out_of_time(began, options.max_minutes):
        batch = [pairs[i] for i in batches[done]]
        columns = (
            [p.anchor for p in batch],
            [p.positive for p in batch],
            [p.negative for p in batch],
        )
        features = [_to(model.preprocess(list(texts)), model.device) for texts in columns]
        value = loss(features, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        done, last = done + 1, float(value.detach())
        if done % options.checkpoint_every == 0 and done < total:
            _save_checkpoint(model, optimizer, scheduler, done, fingerprint, options.checkpoint)
        on_step(done, total)
    seconds = time.monotonic() - began
    if done < total:
        _save_checkpoint(model, optimizer, scheduler, done, fingerprint, options.checkpoint)
    _save_model(model, options.out)
    if done >= total:
        shutil.rmtree(options.checkpoint, ignore_errors=True)
    return TuneResult(done, total, resumed_from, seconds, last)


def _batches(n: int, options: TuneOptions) -> list[list[int]]:
    """Every epoch's pairs in a seeded order, cut into batches (the last one may be short)."""
    rng = random.Random(options.seed)
    out: list[list[int]] = []
    for _ in range(options.epochs):
        order = list(range(n))
        rng.shuffle(order)
        out += [order[i : i + options.batch_size] for i in range(0, n, options.batch_size)]
    return out


def _to(features: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def _out_of_time(began: float, max_minutes: float | None) -> bool:
    return max_minutes is not None and time.monotonic() - began >= max_minutes * 60


def _fingerprint(pairs: Sequence[Pair], options: TuneOptions) -> str:
    """What a checkpoint must have been made with to be resumed: the pairs, the base model's
    path and every option that shapes the steps (not the time bound or the output paths)."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(asdict(pair), sort_keys=True).encode())
    shaping = asdict(options)
    for key in ("out", "checkpoint", "max_minutes", "checkpoint_every", "device"):
        shaping.pop(key)
    digest.update(json.dumps(shaping, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _load_state(checkpoint: Path, fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint's training state when it was made from the same pairs and options."""
    path = checkpoint / STATE_FILE
    if not path.is_file():
        return None
    import torch

    state: dict[str, Any] = torch.load(path, weights_only=True)
    return state if state.get("fingerprint") == fingerprint else None


def _save_checkpoint(
    model: Any, optimizer: Any, scheduler: Any, step: int, fingerprint: str, checkpoint: Path
) -> None:
    """Model and optimizer state, written beside the old checkpoint and then swapped in."""
    import torch

    fresh = checkpoint.with_name(checkpoint.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    model.save(str(fresh / "model"), create_model_card=False)
    state = {
        "step": step,
        "fingerprint": fingerprint,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
    }
    torch.save(state, fresh / STATE_FILE)
    _replace(fresh, checkpoint)


def _save_model(model: Any, out: Path) -> None:
    fresh = out.with_name(out.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    model.save(str(fresh), create_model_card=False)
    _replace(fresh, out)


def _replace(fresh: Path, target: Path) -> None:
    """Put `fresh` where `target` is, never leaving neither (a crash leaves `target.old`)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
