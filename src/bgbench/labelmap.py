"""From a model's output space to benchmark labels (pure functions on tensors).

Rules (every result records which one produced it):

- ``released`` (default for 1000-class models): argmax over all 1000 logits, then the ImageNet ->
  IN-9 table; the 630 classes outside the nine give -1, which never equals a label (counts wrong).
  This is what the authors' released evaluation script does.
- ``restricted``: argmax over the 370 IN-9 ImageNet classes only, then the table (later papers).
- ``sum``: softmax over all outputs, probability mass summed per target class, argmax.
- ``direct``: the model already predicts the targets (e.g. a 9-class IN-9 model): argmax.
- a custom table (mapping file): output index -> target index or -1, used with released/sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bgbench.classes import IN9_CLASSES, NUM_IMAGENET_CLASSES, imagenet_to_in9_array
from bgbench.errors import BgbenchError
from bgbench.options import MAP_RULES


@dataclass(frozen=True)
class LabelMap:
    """Maps logits of shape (N, num_outputs) to int64 predictions of shape (N,) in [-1, num_targets).

    ``table`` is an int64 array (num_outputs,) giving each output's target (-1 = none), or None for
    ``direct`` maps where output i is target i.
    """

    rule: str
    num_outputs: int
    num_targets: int = len(IN9_CLASSES)
    table: np.ndarray | None = None
    source: str = "identity"
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def _table_on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._cache:
            assert self.table is not None
            self._cache[key] = torch.as_tensor(self.table, dtype=torch.long, device=device)
        return self._cache[key]

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Predicted target index per row, int64 (N,), -1 where the top output maps to no target."""
        if logits.ndim != 2 or logits.shape[1] != self.num_outputs:
            raise BgbenchError(f"model returned logits of shape {tuple(logits.shape)}, "
                               f"expected (N, {self.num_outputs})")
        if self.table is None:
            return logits.argmax(dim=1)
        table = self._table_on(logits.device)
        if self.rule == "released":
            return table[logits.argmax(dim=1)]
        if self.rule == "restricted":
            masked = logits.float().masked_fill(table.unsqueeze(0) < 0, float("-inf"))
            return table[masked.argmax(dim=1)]
        if self.rule == "sum":
            probs = torch.softmax(logits.float(), dim=1)
            mass = torch.zeros(logits.shape[0], self.num_targets, device=logits.device, dtype=probs.dtype)
            keep = table >= 0
            mass.index_add_(1, table[keep], probs[:, keep])
            return mass.argmax(dim=1)
        raise BgbenchError(f"unknown label-map rule {self.rule!r}")

    def describe(self) -> dict:
        return {"rule": self.rule, "num_outputs": self.num_outputs, "num_targets": self.num_targets,
                "source": self.source}


def read_mapping_file(path: str | Path) -> dict[int, int]:
    """Parse a JSON mapping ``{"<output index>": <target index or -1>, ...}`` (or ``{"mapping": {...}}``)
    into {output: target}; raises ``BgbenchError`` naming the file when it is not such a mapping."""
    from bgbench.textio import read_json

    path = Path(path)
    raw = read_json(path, "mapping file")  # missing, not UTF-8, not JSON, NaN, too deep: one line
    if isinstance(raw, dict) and "mapping" in raw:
        raw = raw["mapping"]
    if not isinstance(raw, dict):
        raise BgbenchError('mapping file must be a JSON object {"output index": target index}', path)
    mapping = {}
    for key, value in raw.items():
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError(value)
            mapping[int(key)] = int(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise BgbenchError(f"mapping entry {key!r}: {value!r} is not integer -> integer", path) from exc
    return mapping


def load_mapping_file(path: str | Path, num_outputs: int, num_targets: int) -> np.ndarray:
    """The mapping file as an int64 (num_outputs,) table of targets in [-1, num_targets) (missing
    outputs -> -1); raises ``BgbenchError`` for an output or target out of range."""
    table = np.full(num_outputs, -1, dtype=np.int64)
    for out, target in read_mapping_file(path).items():
        if not 0 <= out < num_outputs:
            raise BgbenchError(f"mapping names output {out}, but the model has {num_outputs} outputs", path)
        if not -1 <= target < num_targets:
            raise BgbenchError(f"mapping target {target} is outside [-1, {num_targets})", path)
        table[out] = target
    return table


def create_label_map(num_outputs: int, rule: str = "released", mapping_file: str | Path | None = None,
                     num_targets: int = len(IN9_CLASSES)) -> LabelMap:
    """Choose the label map for a model with ``num_outputs`` outputs.

    1000 outputs: the ImageNet -> IN-9 table under ``rule``; ``num_targets`` outputs: direct;
    anything else needs a mapping file. Raises ``BgbenchError`` when nothing fits.
    """
    if rule not in MAP_RULES:
        raise BgbenchError(f"unknown --map {rule!r} (expected one of {', '.join(MAP_RULES)})")
    if mapping_file is not None:
        table = load_mapping_file(mapping_file, num_outputs, num_targets)
        return LabelMap(rule=rule, num_outputs=num_outputs, num_targets=num_targets, table=table,
                        source=str(mapping_file))
    if num_outputs == NUM_IMAGENET_CLASSES:
        return LabelMap(rule=rule, num_outputs=num_outputs, num_targets=num_targets,
                        table=imagenet_to_in9_array(), source="imagenet_to_in9")
    if num_outputs == num_targets:
        return LabelMap(rule="direct", num_outputs=num_outputs, num_targets=num_targets)
    raise BgbenchError(
        f"model has {num_outputs} outputs, which fits no label map: expected {NUM_IMAGENET_CLASSES} "
        f"(ImageNet-1k) or {num_targets} (one per class), or pass a mapping file (--class-map)")
