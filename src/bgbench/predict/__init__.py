"""The prediction layer eval, the challenge (and saliency, probes) share: label-space policy
(:mod:`~bgbench.predict.labels`), the classifier factory (:func:`load_model`, :func:`make_predictor`,
:class:`ReadyModel`) and batched inference (:func:`predict_images`)."""

from bgbench.predict.infer import check_logits, predict_images
from bgbench.predict.labels import folder_indices, select_label_map, target_classes
from bgbench.predict.predictor import Predictor, ReadyModel, load_model, make_predictor, predictor_for

__all__ = ["Predictor", "ReadyModel", "check_logits", "folder_indices", "load_model",
           "make_predictor", "predict_images", "predictor_for", "select_label_map", "target_classes"]
