"""Experiment tracking of a training run (``--log tensorboard|mlflow|wandb``): the recipe as the run's
parameters, per-epoch ``train/loss``, ``train/accuracy``, ``train/lr``, ``train/images_per_s``, and the
final evaluation (``eval/<variant>``, ``eval/bg_gap``, ``challenge/accuracy``; fractions in [0, 1]).

Where each writes: TensorBoard event files in ``OUT/tensorboard``; MLflow to ``$MLFLOW_TRACKING_URI``
or else a file store ``OUT/mlruns`` (setting ``MLFLOW_ALLOW_FILE_STORE=true``, which MLflow 3 asks
for); W&B to project ``$WANDB_PROJECT`` (default ``bgbench``), its files
under ``OUT/wandb`` (``WANDB_MODE=offline`` keeps it off the network). Only rank 0 tracks.
Each tracker is an optional extra (``pip install 'bgbench[tensorboard]'`` and so on).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError

TRACKERS = ("tensorboard", "mlflow", "wandb")
#: tracker -> (module that must import, the pip extra that installs it)
_NEEDS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow"),
          "wandb": ("wandb", "wandb")}


def check_tracker(kind: str | None) -> None:
    """BgbenchError (one line naming the extra) when ``kind`` is unknown or its package is missing."""
    if kind is None:
        return
    if kind not in TRACKERS:
        raise BgbenchError(f"unknown --log {kind!r} (expected {', '.join(TRACKERS)})")
    import importlib.util

    module, extra = _NEEDS[kind]
    if importlib.util.find_spec(module) is None:
        raise BgbenchError(f"--log {kind} needs the {module} package: pip install 'bgbench[{extra}]'")


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested ``config`` as ``a.b -> str`` parameters (values cut to 250 characters)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[f"{prefix}{key}"] = text[:250]
    return out


class Tracker:
    """One tracked run: :meth:`log` scalars at a step, :meth:`finish` with the final ones."""

    def __init__(self, kind: str, out: Path, name: str, config: dict[str, Any]) -> None:
        self.kind = kind
        if kind == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(out / "tensorboard"))
            self._tb.add_text("config", "```\n" + json.dumps(config, indent=1, default=str) + "\n```")
        elif kind == "mlflow":
            import mlflow

            uri = os.environ.get("MLFLOW_TRACKING_URI")
            if not uri:  # MLflow 3 keeps its file store behind this switch
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
                uri = (out / "mlruns").resolve().as_uri()
            mlflow.set_tracking_uri(uri)
            mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "bgbench"))
            self._run = mlflow.start_run(run_name=name)
            mlflow.log_params(_flat(config))
        else:
            import wandb

            (out / "wandb").mkdir(parents=True, exist_ok=True)
            self._run = wandb.init(project=os.environ.get("WANDB_PROJECT", "bgbench"), name=name,
                                   config=config, dir=str(out), reinit=True)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Record ``metrics`` (name -> number) at ``step``."""
        if self.kind == "tensorboard":
            for name, value in metrics.items():
                self._tb.add_scalar(name, value, step)
            self._tb.flush()
        elif self.kind == "mlflow":
            import mlflow

            mlflow.log_metrics(dict(metrics), step=step)
        else:
            self._run.log(dict(metrics), step=step)

    def finish(self, final: dict[str, float], step: int) -> None:
        """Record the final evaluation at ``step`` and close the run."""
        if final:
            self.log(final, step)
        if self.kind == "tensorboard":
            self._tb.close()
        elif self.kind == "mlflow":
            import mlflow

            mlflow.end_run()
        else:
            self._run.summary.update(final)
            self._run.finish()


def open_tracker(kind: str | None, out: Path, name: str, config: dict[str, Any]) -> Tracker | None:
    """A :class:`Tracker` of ``kind`` for the run in ``out`` (None for no tracking)."""
    if kind is None:
        return None
    check_tracker(kind)
    return Tracker(kind, Path(out), name, config)


def final_metrics(metrics: dict[str, Any] | None, chal: dict[str, Any] | None) -> dict[str, float]:
    """``eval/<variant>``, ``eval/bg_gap`` and ``challenge/accuracy`` of a finished run."""
    out = {f"eval/{k}": float(v) for k, v in ((metrics or {}).get("accuracy") or {}).items()}
    if metrics and metrics.get("bg_gap") is not None:
        out["eval/bg_gap"] = float(metrics["bg_gap"])
    if chal and chal.get("accuracy") is not None:
        out["challenge/accuracy"] = float(chal["accuracy"])
    return out
