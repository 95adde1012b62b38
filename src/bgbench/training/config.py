"""The settings of a training run: :class:`TrainConfig`, with its background swap (:class:`Swap`) and
its final evaluation (:class:`EvalPlan`).

``train(data, model, config, *, out, quiet)`` (:func:`bgbench.training.train`) takes the model (a spec
or :class:`~bgbench.options.ModelOptions`: device, precision, preprocess, ``pretrained=False`` for
``--scratch``, weights, ...) apart from these settings. This module imports no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bgbench.config import CacheChoice, check_numbers, number
from bgbench.errors import BgbenchError
from bgbench.training.recipe import Recipe


@dataclass(frozen=True)
class Swap:
    """Background-swap augmentation of a run (:class:`bgbench.augment.BackgroundSwap`).

    ``p``: swap probability per image, in (0, 1]; ``classes``: ``any`` (uniform over the bank, the
    background's class independent of the label; default) or ``other`` (never the foreground's own
    class); ``draws``: composites per training image with ``head_only`` (features computed once;
    at least 1); ``scale`` (low, high) and ``translate`` (fraction of the side) move the foreground."""

    p: float = number(1.0, low=0, high=1, whole=False, low_open=True)
    classes: str = "any"
    draws: int = number(4, low=1)
    scale: tuple[float, float] = (1.0, 1.0)
    translate: float = number(0.0, low=0, high=1, whole=False)

    def __post_init__(self) -> None:
        from bgbench.augment import SWAP_CLASSES

        check_numbers(self)
        if self.classes not in SWAP_CLASSES:
            raise BgbenchError(f"--swap-classes must be one of {', '.join(SWAP_CLASSES)}, "
                               f"got {self.classes!r}")

    @classmethod
    def of(cls, value: Swap | float | None) -> Swap | None:
        """A Swap from a Swap or a probability (0 or None: no swap), e.g. ``TrainConfig(swap=Swap.of(p))``."""
        if value is None or isinstance(value, Swap):
            return value
        if value == 0:
            return None
        return cls(p=float(value))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "scale": list(self.scale)}


@dataclass(frozen=True)
class EvalPlan:
    """How the trained model is evaluated: every variant of ``split`` (or the comma list ``variants``)
    of ``data`` (another built or downloaded tree, e.g. the official IN-9 of ``bgbench download in9``;
    None: the training tree), optionally ``draws`` (at least 1, ``--draws``) donor backgrounds per
    foreground and the challenge; ``results_dir`` / ``challenge_dir``: where their outputs go (default
    ``OUT/eval`` and ``OUT/challenge``). ``enabled=False`` (``--no-eval``): no evaluation at all."""

    split: str = "val"
    draws: int | None = number(None, low=1)
    challenge: bool = False
    variants: str | None = None
    results_dir: str | Path | None = None
    challenge_dir: str | Path | None = None
    data: str | Path | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        check_numbers(self)

    def tree(self, train_data: str | Path) -> Path:
        """The tree evaluated: ``data``, else the training tree."""
        return Path(self.data if self.data is not None else train_data)

    def check(self, train_data: str | Path, class_names: list[str]) -> None:
        """BgbenchError (before any output) when the tree has no such split or variants, or its class
        folders differ from the training classes."""
        if not self.enabled:
            return
        from bgbench.data import In9Tree

        root = self.tree(train_data)
        tree = In9Tree(root)
        try:
            names = tree.variants(self.split, self.variants)
        except BgbenchError as exc:
            if self.data is not None:
                raise
            raise BgbenchError(f"{exc}; to evaluate on another tree give --eval-data TREE "
                               "(or --no-eval)") from None
        classes = tree.shared_class_folders(names, self.split)
        if classes != list(class_names):
            raise BgbenchError(f"class folders of {names[0]}/{self.split} ({', '.join(classes)}) differ from "
                               f"the training classes ({', '.join(class_names)})", root)


def _require(name: str, value: Any, kind: type | tuple[type, ...], want: str) -> None:
    if not isinstance(value, kind):
        raise BgbenchError(f"TrainConfig.{name} must be {want}, got {type(value).__name__} {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run besides the data, the model, ``out`` and ``quiet``.

    - ``variant``: the variant folder trained on (``original``, ``mixed_rand``, ...); ``split``: its
      split (``train``).
    - ``head_only``: last-layer retraining on cached features of the frozen backbone (else full
      training / fine-tuning).
    - ``recipe``: optimiser, schedule and augmentation (:class:`~bgbench.training.recipe.Recipe`;
      ``None`` fields are the mode's documented defaults; its batch size is per process).
    - ``swap``: the background swap (:class:`Swap`; ``Swap.of(p)`` from a probability) or None (off).
    - ``seed``: seeds the head, the data order, crops and swaps (any integer).
    - ``evaluation``: the evaluation at the end (:class:`EvalPlan`; default every variant of val of
      the training tree).
    - ``log``: experiment tracker ``tensorboard``, ``mlflow`` or ``wandb`` (None: none;
      :mod:`bgbench.training.tracking`).
    - ``cache``: the decoded-image cache (:class:`~bgbench.config.CacheChoice`), also the feature
      cache of ``head_only`` and the evaluation's.
    """

    variant: str = "original"
    head_only: bool = False
    recipe: Recipe = field(default_factory=Recipe)
    swap: Swap | None = None
    seed: int = number(0)
    split: str = "train"
    evaluation: EvalPlan = field(default_factory=EvalPlan)
    log: str | None = None
    cache: CacheChoice = field(default_factory=CacheChoice)

    def __post_init__(self) -> None:
        from bgbench.training.tracking import TRACKERS

        for name in ("variant", "split"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise BgbenchError(f"TrainConfig.{name} must be a non-empty folder name, got {value!r}")
        _require("recipe", self.recipe, Recipe, "a Recipe")
        _require("swap", self.swap, (Swap, type(None)), "a Swap or None (Swap.of(p) from a probability)")
        _require("evaluation", self.evaluation, EvalPlan, "an EvalPlan")
        _require("cache", self.cache, CacheChoice, "a CacheChoice")
        check_numbers(self)
        if self.log is not None and self.log not in TRACKERS:
            raise BgbenchError(f"unknown --log {self.log!r} (expected {', '.join(TRACKERS)})")


__all__ = ["EvalPlan", "Swap", "TrainConfig"]
