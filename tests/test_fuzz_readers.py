"""Fuzz every reader of user-supplied files: random bytes and random JSON/TOML structures either parse
or raise :class:`~bgbench.errors.BgbenchError` (the XML reader: its AnnotationError drop reason),
never anything else. A few hundred examples in all, a few seconds."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgbench.errors import BgbenchError

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)

#: JSON values: scalars (huge and non-finite numbers included) nested a few levels
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=20)
SCHEMAS = ["bgbench.eval/1", "bgbench.challenge/1", "bgbench.build/1", "bgbench.sweep/1", "bgbench.train/1",
           "bgbench.saliency/1", "bgbench.probe/1", "bgbench.synth/1", "bgbench.demo/1", "bgbench.report/1",
           "bgbench.download/1", "bgbench.eval/2", "nonsense"]
#: keys the readers look for, so that random documents reach past the first check
KEYS = ["schema", "model", "accuracy", "data", "class_names", "predictions", "map_rule", "config",
        "foregrounds", "forward_passes", "run", "complete", "per_class", "bg_gap", "bg_gap_ci95", "shard",
        "index", "image", "label", "fooled", "root", "split", "path", "pred", "top1", "models", "rows"]
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=10).flatmap(
    lambda d: st.sampled_from(SCHEMAS).map(lambda s: {**d, "schema": s} if "schema" not in d else d))


def encode(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


#: every example's files go under one folder, removed when the test process ends
BASE = Path(tempfile.mkdtemp(prefix="bgbench-fuzz-"))
atexit.register(shutil.rmtree, BASE, True)


def _folder() -> Path:
    return Path(tempfile.mkdtemp(dir=BASE))


def parses_or_bgbench_error(call) -> None:
    try:
        call()
    except BgbenchError as exc:
        assert "\n" not in str(exc)


# ----------------------------------------------------------------------------- result files
@FUZZ
@given(data=st.one_of(st.binary(max_size=200), documents.map(encode), json_values.map(encode)),
       name=st.sampled_from(["eval.json", "challenge.json", "sweep.json", "build.json", "other.json"]))
def test_load_results(data, name):
    from bgbench.results import load_results

    path = _folder() / name
    path.write_bytes(data)
    parses_or_bgbench_error(lambda: load_results(path))


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), documents.map(encode)))
def test_challenge_merge_inputs(data):
    from bgbench.challenge import merge_shards

    folder = _folder()
    (folder / "s0").mkdir()
    (folder / "s0" / "challenge.json").write_bytes(data)
    parses_or_bgbench_error(lambda: merge_shards(folder / "nodata", [folder / "s0"], folder / "out"))


@FUZZ
@given(data=st.one_of(st.binary(max_size=200),
                      st.dictionaries(st.sampled_from(["arch", "num_classes", "preprocessing", "class_names",
                                                       "mean", "std"]), json_values, max_size=5)
                      .map(lambda d: encode({"schema": "bgbench.model/1", **d}))))
def test_model_sidecar(data):
    from bgbench.models.checkpoint import read_sidecar

    folder = _folder()
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "model.json").write_bytes(data)
    parses_or_bgbench_error(lambda: read_sidecar(folder / "model.safetensors"))


@FUZZ
@given(data=st.one_of(st.binary(max_size=100), json_values.map(encode),
                      st.dictionaries(st.text(max_size=4), json_values, max_size=4).map(encode)))
def test_model_class_map(data):
    from bgbench.labelmap import read_mapping_file

    path = _folder() / "map.json"
    path.write_bytes(data)
    parses_or_bgbench_error(lambda: read_mapping_file(path))


# ----------------------------------------------------------------------------- TOML configs
TOML_LINES = ["[[model]]", "[[models]]", "[model]", 'spec = "efficientnet_lite0"', 'spec = "timm:resnet18"',
              "spec = 5", 'spec = ""', 'name = "a"', "name = 7", "imagenet_top1 = 75.1",
              "imagenet_top1 = true",
              "published_top1 = 101", "challenge = false", 'challenge = "no"', "model = 5", 'model = "x"',
              "model = [1, 2]", "num_classes = -1", 'preprocess = "magic"', 'preprocessing = "imagenet"',
              'weights = "w.pt"', "input_size = 224", "input_size = [1]", 'output_space = "in9"', "x = nan",
              "x = inf", "notes = { a = 1 }", 'title = "t"', "[other]", "= broken", "a = [[[[[]]]]]"]
toml_texts = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(TOML_LINES), max_size=10).map(lambda lines: "\n".join(lines).encode()),
)


@FUZZ
@given(data=toml_texts)
def test_sweep_models_file(data):
    from bgbench.sweeps.config import read_models_toml

    path = _folder() / "models.toml"
    path.write_bytes(data)
    parses_or_bgbench_error(lambda: read_models_toml(path))


@FUZZ
@given(data=toml_texts)
def test_zoo_file(data):
    from bgbench.models.zoo import user_entries

    path = _folder() / "zoo.toml"
    path.write_bytes(data)
    parses_or_bgbench_error(lambda: user_entries(path))


# ----------------------------------------------------------------------------- dataset annotations
XML_PARTS = ["<annotation>", "</annotation>", "<size><width>80</width><height>64</height></size>",
             "<size><width>-1</width></size>", "<object><name>n02084071</name>", "</object>",
             "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>70</xmax><ymax>60</ymax></bndbox>",
             "<bndbox><xmin>x</xmin></bndbox>", "<filename>a.jpg</filename>", "<difficult>1</difficult>",
             "<!DOCTYPE a>", "&amp;", "\xff", "<"]


@FUZZ
@given(data=st.one_of(st.binary(max_size=200),
                      st.lists(st.sampled_from(XML_PARTS), max_size=12).map(lambda p: "".join(p).encode())))
def test_xml_annotation(data):
    from bgbench.sources.xml import AnnotationError, parse_annotation_bytes

    try:
        parse_annotation_bytes(data)
    except (AnnotationError, BgbenchError) as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), st.dictionaries(
    st.sampled_from(["images", "annotations", "categories", "info"]), json_values, max_size=4).map(encode)))
def test_coco_json(data):
    from bgbench.sources.coco import load_coco_json

    path = _folder() / "instances_val.json"
    path.write_bytes(data)
    parses_or_bgbench_error(lambda: load_coco_json(path))


@FUZZ
@given(data=st.binary(max_size=120))
def test_voc_split_list(data):
    from bgbench.sources.voc import read_voc

    root = _folder()
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    (root / "ImageSets" / "Main" / "val.txt").write_bytes(data)
    parses_or_bgbench_error(lambda: read_voc(root, "val"))


@pytest.mark.parametrize("reader", ["load_results", "read_models_toml"])
def test_deep_nesting_is_refused_not_a_recursion_error(reader, tmp_path):
    from bgbench.results import load_results
    from bgbench.sweeps.config import read_models_toml

    if reader == "load_results":
        path = tmp_path / "eval.json"
        path.write_bytes(b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
        call = load_results
    else:
        path = tmp_path / "models.toml"
        path.write_bytes(b"a = " + b"[" * 200_000 + b"]" * 200_000)
        call = read_models_toml
    with pytest.raises(BgbenchError, match="nested too deeply"):
        call(path)
