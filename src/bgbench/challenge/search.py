"""The batched early-exit background search: pure torch on in-memory tensors, no files, no models.

Inputs live on one device: foreground images uint8 (F, 3, H, W), their masks (F, 1, H, W) with
values in {0, 1} (uint8, bool or float), background images uint8 (N, 3, H, W). ``predict`` maps a
float32 batch (B, 3, H, W) in [0, 1] to int64 predictions (B,) in the label space of the
foreground labels (e.g. IN-9 indices, -1 for "none of the nine", which never equals a label).

A foreground ``f`` with label ``y`` is *fooled* (the released reading) when some background ``b``
gives ``predict(b * (1 - m) + x * m) != y``; it is *strictly fooled* (the paper's stricter reading)
when some background gives ``predict(...) == class(b) != y``.

How the search keeps every forward pass useful:

- a work queue of active foregrounds ("slots", ``max_active`` of them); every batch takes, for
  each active foreground, its next untried backgrounds, so batches stay full across foregrounds;
- a decided foreground leaves at once; only the compositions after its deciding one inside the
  same batch are wasted (counted in ``SearchStats.wasted``), which happens only when there are
  fewer active foregrounds than batch slots (the tail of the queue);
- adaptive ordering (``order="adaptive"``): each foreground tries its untried backgrounds in
  decreasing order of how many foregrounds they have fooled so far (ties: folder order). The
  order changes which fooling background is found, never the decision: a foreground is only
  declared robust after every background was tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from bgbench.challenge.config import ORDERS
from bgbench.composite import composite_torch

Predict = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Outcome:
    """The decision for one foreground (index into the foreground bank).

    ``fooling_background``/``predicted``: the first fooling background found and the prediction it
    caused (None when robust). ``backgrounds_tried``: composites evaluated for it up to and
    including the deciding one. ``strict_*``: the stricter reading, None when not searched.
    """

    index: int
    fooled: bool
    fooling_background: int | None
    predicted: int | None
    backgrounds_tried: int
    strict_fooled: bool | None = None
    strict_background: int | None = None
    strict_predicted: int | None = None

    def to_record(self) -> dict:
        return {"index": self.index, "fooled": self.fooled, "fooling_background": self.fooling_background,
                "predicted": self.predicted, "backgrounds_tried": self.backgrounds_tried,
                "strict_fooled": self.strict_fooled, "strict_background": self.strict_background,
                "strict_predicted": self.strict_predicted}

    @classmethod
    def from_record(cls, record: dict) -> Outcome:
        return cls(**{k: record.get(k) for k in ("index", "fooled", "fooling_background", "predicted",
                                                  "backgrounds_tried", "strict_fooled", "strict_background",
                                                  "strict_predicted")})


@dataclass
class SearchStats:
    """Counters of one search: composites evaluated (forward passes), wasted ones, batches."""

    forward_passes: int = 0
    wasted: int = 0
    batches: int = 0
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    fool_counts: np.ndarray | None = None


def compose_batch(fg_images: torch.Tensor, fg_masks: torch.Tensor, bg_images: torch.Tensor,
                  fg_index: torch.Tensor, bg_index: torch.Tensor) -> torch.Tensor:
    """Composites for pairs ``(fg_index[i], bg_index[i])``: float32 (B, 3, H, W) in [0, 1].

    Exactly the released arithmetic: both images as ``uint8 / 255`` (ToTensor), the mask as float,
    ``bg * (1 - m) + x * m``.
    """
    x = fg_images.index_select(0, fg_index).float().div_(255)
    b = bg_images.index_select(0, bg_index).float().div_(255)
    m = fg_masks.index_select(0, fg_index).float()
    return composite_torch(x, b, m)


def _allocate(remaining: np.ndarray, budget: int) -> np.ndarray:
    """Split ``budget`` batch slots over rows with ``remaining`` untried candidates (water-filling:
    every row gets the same share, capped by what it has left). Returns int64 counts, sum <= budget."""
    take = np.zeros_like(remaining)
    left = budget
    open_rows = remaining > 0
    while left > 0 and open_rows.any():
        idx = np.flatnonzero(open_rows)
        share = max(1, left // len(idx))
        for i in idx:
            add = min(share, remaining[i] - take[i], left)
            take[i] += add
            left -= add
            if take[i] >= remaining[i]:
                open_rows[i] = False
            if left == 0:
                break
    return take


class _Untried:
    """Which backgrounds each slot has not tried yet (bool (slots, N)), with the per-batch pick.

    Kept as a numpy array for CPU runs (fastest there) and as a tensor on the device otherwise (a few
    (slots x N) kernels per batch, cheap next to a forward pass on a GPU)."""

    def __init__(self, n_slots: int, n_bg: int, bg_labels: np.ndarray, device: torch.device,
                 on_host: bool | None = None) -> None:
        self.device = device
        self.on_host = device.type == "cpu" if on_host is None else on_host
        if self.on_host:
            self.avail = np.zeros((n_slots, n_bg), dtype=bool)
            self.bg_labels = bg_labels
        else:
            self.avail = torch.zeros((n_slots, n_bg), dtype=torch.bool, device=device)
            self.bg_labels = torch.as_tensor(bg_labels, device=device)

    def reset(self, slots: list[int]) -> None:
        self.avail[slots if self.on_host else torch.as_tensor(slots, device=self.device)] = True

    def drop_class(self, slot: int, label: int) -> int:
        """Remove the backgrounds of class ``label`` from ``slot``; returns how many remain."""
        self.avail[slot] &= self.bg_labels != label
        return int(self.avail[slot].sum())

    def pick(self, slots: np.ndarray, take: np.ndarray, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each slot's first ``take`` untried backgrounds in ``perm`` order, marked tried:
        (slot, background) int64 arrays grouped by slot, in priority order."""
        if self.on_host:
            ordered = self.avail[slots][:, perm]
            picked = ordered & (np.cumsum(ordered, axis=1, dtype=np.int32) <= take[:, None])
            row, pos = np.nonzero(picked)
            slot_sel, bg_sel = slots[row], perm[pos]
            self.avail[slot_sel, bg_sel] = False
            return slot_sel, bg_sel
        rows_t = torch.as_tensor(slots, device=self.device)
        perm_t = torch.as_tensor(perm, device=self.device)
        ordered = self.avail.index_select(0, rows_t).index_select(1, perm_t)
        limit = torch.as_tensor(take, device=self.device)[:, None]
        row, pos = (ordered & (ordered.cumsum(1, dtype=torch.int32) <= limit)).nonzero(as_tuple=True)
        slot_t, bg_t = rows_t[row], perm_t[pos]
        self.avail[slot_t, bg_t] = False
        return slot_t.cpu().numpy(), bg_t.cpu().numpy()


class _Search:
    """The state of one search: a slot per active foreground, the per-background fool counts.

    Per slot: ``slot_fg`` the foreground it holds (-1 = free), ``phase`` 0 while looking for any
    fool and 1 while a fooled foreground looks for a strict fool, ``n_avail`` its untried candidates,
    ``tried`` the composites evaluated for it. ``counts[0]``/``counts[1]``: decisive (strict) fools
    per background, which order the candidates when ``adaptive``; ``loose``: the first fool found
    for a foreground still in phase 1.
    """

    def __init__(self, fg_labels: np.ndarray, bg_labels: np.ndarray, n_bg: int, queue: list[int],
                 n_slots: int, device: torch.device, *, adaptive: bool, strict: bool,
                 initial_counts: np.ndarray | None, host_selection: bool | None) -> None:
        self.fg_labels, self.bg_labels, self.n_bg = fg_labels, bg_labels, n_bg
        self.queue, self.adaptive, self.strict = queue, adaptive, strict
        self.counts = np.zeros((2, n_bg), dtype=np.int64)
        if initial_counts is not None:
            self.counts[0] += np.asarray(initial_counts, dtype=np.int64).reshape(-1)[:n_bg]
        self.stats = SearchStats()
        self.slot_fg = np.full(n_slots, -1, dtype=np.int64)
        self.phase = np.zeros(n_slots, dtype=np.int64)
        self.untried = _Untried(n_slots, n_bg, bg_labels, device, host_selection)
        self.n_avail = np.zeros(n_slots, dtype=np.int64)
        self.tried = np.zeros(n_slots, dtype=np.int64)
        self.loose: dict[int, tuple[int, int]] = {}
        self.perms: list[np.ndarray] = [np.arange(n_bg)] * 2
        self.dirty = [adaptive] * 2

    def fill_slots(self) -> None:
        """Give every free slot the next foreground of the queue, with all backgrounds untried."""
        new = []
        for s in np.flatnonzero(self.slot_fg < 0):
            if not self.queue:
                break
            self.slot_fg[s] = self.queue.pop()
            self.phase[s] = 0
            self.n_avail[s] = self.n_bg
            self.tried[s] = 0
            new.append(int(s))
        if new:
            self.untried.reset(new)

    def priority(self, ph: int) -> np.ndarray:
        """Background order for phase ``ph``: most decisive fools first (ties: folder order)."""
        if self.dirty[ph]:
            self.perms[ph] = np.argsort(-self.counts[ph], kind="stable")
            self.dirty[ph] = False
        return self.perms[ph]

    def next_batch(self, active: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(slot, background) int64 arrays of the next batch, marked tried."""
        # a foreground gets at most as many new backgrounds as it has already survived (1, 1, 2, 4,
        # ...): batches stay full while the queue is long, and in the tail the compositions wasted
        # after a fool inside one batch never exceed the ones it needed before that batch.
        take = _allocate(np.minimum(self.n_avail[active], np.maximum(self.tried[active], 1)), batch_size)
        phases = self.phase[active]
        parts = [self.untried.pick(active[phases == ph], take[phases == ph], self.priority(ph))
                 for ph in (0, 1) if (phases == ph).any()]
        slot_sel = np.concatenate([p[0] for p in parts])
        bg_idx = np.concatenate([p[1] for p in parts])
        np.subtract.at(self.n_avail, slot_sel, 1)
        return slot_sel, bg_idx

    def _count_fool(self, b: int, phases: tuple[int, ...]) -> None:
        """Count background ``b`` as decisive in ``phases`` (0: a fool, 1: a strict fool)."""
        for ph in phases:
            self.counts[ph, b] += 1
            self.dirty[ph] = self.adaptive

    def judge(self, slot_sel: np.ndarray, bg_idx: np.ndarray,
              preds: np.ndarray) -> tuple[list[Outcome], set[int]]:
        """Read one batch's predictions in order; returns the decided outcomes and their slots."""
        done: list[Outcome] = []
        finished: set[int] = set()
        for s, b, p in zip(slot_sel.tolist(), bg_idx.tolist(), preds.tolist(), strict=True):
            if s in finished:
                self.stats.wasted += 1
                continue
            f = int(self.slot_fg[s])
            y = int(self.fg_labels[f])
            self.tried[s] += 1
            judge = self._first_phase if self.phase[s] == 0 else self._strict_phase
            outcome = judge(s, f, y, b, p)
            if outcome is not None:
                done.append(outcome)
                finished.add(s)
        return done, finished

    def _first_phase(self, s: int, f: int, y: int, b: int, p: int) -> Outcome | None:
        """Prediction ``p`` for foreground ``f`` (label ``y``) over background ``b``, not fooled yet."""
        if p == y:
            return None
        self.loose[f] = (b, p)
        strict_fool = self.strict and p == self.bg_labels[b]
        self._count_fool(b, (0, 1) if strict_fool else (0,))
        if strict_fool:
            return Outcome(f, True, b, p, int(self.tried[s]), True, b, p)
        if self.strict:
            self.phase[s] = 1
            self.n_avail[s] = self.untried.drop_class(s, y)
            return None
        return Outcome(f, True, b, p, int(self.tried[s]))

    def _strict_phase(self, s: int, f: int, y: int, b: int, p: int) -> Outcome | None:
        """Prediction ``p`` for an already fooled foreground, looking for a strict fool."""
        if not (p == self.bg_labels[b] and p != y):
            return None
        self._count_fool(b, (1,))
        lb, lp = self.loose[f]
        return Outcome(f, True, lb, lp, int(self.tried[s]), True, b, p)

    def close_exhausted(self, active: np.ndarray, done: list[Outcome], finished: set[int]) -> None:
        """Decide the active foregrounds with no untried candidate left (robust, or not strictly fooled)."""
        for s in active.tolist():
            if s in finished or self.n_avail[s] > 0:
                continue
            f = int(self.slot_fg[s])
            if self.phase[s] == 0:
                done.append(Outcome(f, False, None, None, int(self.tried[s]), False if self.strict else None))
            else:
                lb, lp = self.loose[f]
                done.append(Outcome(f, True, lb, lp, int(self.tried[s]), False))
            finished.add(s)

    def release(self, finished: set[int], done: list[Outcome]) -> list[Outcome]:
        """Free the finished slots and store the outcomes; returns them in foreground order."""
        for s in finished:
            self.loose.pop(int(self.slot_fg[s]), None)
            self.slot_fg[s] = -1
        done.sort(key=lambda o: o.index)
        for outcome in done:
            self.stats.outcomes[outcome.index] = outcome
        return done


def search_backgrounds(predict: Predict, fg_images: torch.Tensor, fg_masks: torch.Tensor,
                       fg_labels: np.ndarray, bg_images: torch.Tensor, bg_labels: np.ndarray, *,
                       batch_size: int = 256, order: str = "adaptive", strict: bool = False,
                       indices: Iterable[int] | None = None, max_active: int | None = None,
                       initial_counts: np.ndarray | None = None,
                       on_decided: Callable[[list[Outcome]], None] | None = None,
                       on_batch: Callable[[int], None] | None = None,
                       host_selection: bool | None = None) -> SearchStats:
    """Decide, for each foreground in ``indices`` (default: all), whether some background fools it.

    fg_labels: int64 (F,); bg_labels: int64 (N,) class of each background (used by the strict
    reading). ``strict=True`` keeps searching a fooled foreground (only among other-class
    backgrounds) until one pushes it to the background's own class or all are tried.
    ``initial_counts`` (N,) seeds the adaptive order (e.g. from a resumed log). ``on_decided`` is
    called after every batch with the foregrounds decided in it (in foreground order), ``on_batch``
    with the number of composites evaluated. ``host_selection``: keep the per-slot bookkeeping in
    numpy (default on the CPU) or as tensors on the device (default elsewhere); never changes a
    result. Returns the outcomes and counters.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n_bg = int(bg_images.shape[0])
    if n_bg == 0:
        raise ValueError("no backgrounds")
    fg_labels = np.asarray(fg_labels, dtype=np.int64)
    queue = list(range(len(fg_labels)) if indices is None else indices)
    queue.reverse()  # pop() from the end = foreground order
    device = bg_images.device
    search = _Search(fg_labels, np.asarray(bg_labels, dtype=np.int64), n_bg, queue,
                     max(1, min(max_active or batch_size, len(queue) or 1)), device,
                     adaptive=order == "adaptive", strict=strict, initial_counts=initial_counts,
                     host_selection=host_selection)
    stats = search.stats
    search.fill_slots()
    while (search.slot_fg >= 0).any():
        active = np.flatnonzero(search.slot_fg >= 0)
        slot_sel, bg_idx = search.next_batch(active, batch_size)
        with torch.inference_mode():
            batch = compose_batch(fg_images, fg_masks, bg_images,
                                  torch.as_tensor(search.slot_fg[slot_sel], device=device),
                                  torch.as_tensor(bg_idx, device=device))
            preds = predict(batch).to("cpu").numpy().astype(np.int64)
        stats.forward_passes += len(bg_idx)
        stats.batches += 1
        if on_batch is not None:
            on_batch(len(bg_idx))
        done, finished = search.judge(slot_sel, bg_idx, preds)
        search.close_exhausted(active, done, finished)
        done = search.release(finished, done)
        if done and on_decided is not None:
            on_decided(done)
        search.fill_slots()
    stats.fool_counts = search.counts[0].copy()
    return stats


def oracle_minimum(outcomes: Iterable[Outcome], n_backgrounds: int) -> int:
    """Fewest composites any search could evaluate for these decisions (released reading): one per
    fooled foreground (its fooling background tried first), every background for a robust one."""
    return sum(1 if o.fooled else n_backgrounds for o in outcomes)
