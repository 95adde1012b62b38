"""A model ready to score a dataset: classifier + label map + the class space, built once.

:func:`make_predictor` is the one classifier factory of eval, the challenge and every later command:
it takes a spec string, a :class:`~bgbench.options.ModelOptions` or a ready
:class:`~bgbench.models.base.Classifier`, and the data's class folders, and applies the label-space
policy of :mod:`bgbench.predict.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.config import ModelArg
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.predict.labels import select_label_map, target_classes


@dataclass(frozen=True)
class ReadyModel:
    """A ready :class:`~bgbench.models.base.Classifier` with the label options a spec would carry in
    its :class:`ModelOptions`: ``map_rule`` (``released``, ``restricted``, ``sum``) and ``class_map``
    (a JSON mapping file or dict). Pass it as an entry point's ``model`` to score a classifier you
    built yourself under another label rule (a bare Classifier uses the defaults)."""

    classifier: Any
    map_rule: str = "released"
    class_map: Any = None

    def options(self) -> ModelOptions:
        """The ModelOptions recorded for this model (its own spec, these label options)."""
        return ModelOptions(spec=getattr(self.classifier, "spec", None) or "classifier",
                            map_rule=self.map_rule, class_map=self.class_map)


def load_model(model: ModelArg = None) -> tuple[Any, ModelOptions]:
    """(classifier, options) for ``model``: a spec string or :class:`ModelOptions` (None: the
    default model) is loaded with ``create_classifier``; a ready
    :class:`~bgbench.models.base.Classifier` is kept as is (its own device and preprocessing win)
    under the default label options, a :class:`ReadyModel` under its own."""
    from bgbench.models.base import Classifier

    if isinstance(model, ReadyModel):
        return model.classifier, model.options()
    if isinstance(model, Classifier):
        return model, ReadyModel(model).options()
    if model is not None and not isinstance(model, (str, ModelOptions)):
        raise BgbenchError(f"model must be a spec string, ModelOptions, a Classifier or a ReadyModel, "
                           f"got {type(model).__name__}")
    from bgbench.models import create_classifier

    opts = ModelOptions.of(model)
    return create_classifier(opts), opts


@dataclass
class Predictor:
    """``classifier`` (float [0, 1] (N, 3, H, W) -> logits (N, num_outputs)), its ``label_map``
    into ``class_names`` (the scoring space, see :func:`target_classes`), and ``folders`` (the data's
    class folders, a subset of ``class_names``)."""

    classifier: Any
    label_map: Any
    class_names: list[str]
    folders: list[str]
    spec: str
    options: ModelOptions = field(default_factory=ModelOptions)
    _to_folder: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def device(self):
        return self.classifier.device

    def relabel(self) -> np.ndarray:
        """int64 (len(folders),): folder index -> index in ``class_names``."""
        return np.array([self.class_names.index(f) for f in self.folders], dtype=np.int64)

    def predict(self, x01):
        """Mapped predictions int64 (N,) in [-1, len(class_names)) for float [0, 1] (N, 3, H, W)."""
        return self.label_map.predict(self.classifier(x01))

    def predict_folders(self, x01):
        """Like :meth:`predict`, but as *folder* indices in [-1, len(folders)) (a class with no
        folder, or an output outside the classes, gives -1: always wrong)."""
        import torch

        key = str(self.device)
        if key not in self._to_folder:
            table = torch.full((len(self.class_names) + 1,), -1, dtype=torch.long, device=self.device)
            for i, folder in enumerate(self.folders):
                table[self.class_names.index(folder)] = i
            self._to_folder[key] = table
        return self._to_folder[key][self.predict(x01)]

    def describe(self) -> dict[str, Any]:
        """The classifier's own record (weights hash, preprocessing, precision, device, ...)."""
        return self.classifier.describe()


def make_predictor(model: ModelArg, folders: list[str], *, data: str | Path | None = None) -> Predictor:
    """Load ``model`` (see :func:`load_model`) and fit the label map to the data's class
    ``folders`` under the options' ``map_rule`` / ``class_map`` (BgbenchError, naming the tree
    ``data`` when given, when no map fits)."""
    clf, opts = load_model(model)
    return predictor_for(clf, opts, folders, data=data)


def predictor_for(clf: Any, opts: ModelOptions, folders: list[str], *,
                  data: str | Path | None = None) -> Predictor:
    """A :class:`Predictor` for a loaded classifier, the label options of ``opts`` and ``folders``
    (``data``: the tree they come from, named by the error when no label map fits)."""
    n_out = int(clf.num_outputs)
    classes = target_classes(n_out, list(folders), opts.class_map)
    label_map = select_label_map(n_out, classes, opts.map_rule, opts.class_map, where=data)
    spec = str(getattr(clf, "spec", None) or opts.spec)
    return Predictor(classifier=clf, label_map=label_map, class_names=classes, folders=list(folders),
                     spec=spec, options=opts)
