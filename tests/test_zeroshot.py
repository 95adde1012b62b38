"""Zero-shot CLIP-style models (open_clip:, hf_clip:) on tiny random models built here (no download)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

open_clip = pytest.importorskip("open_clip")
transformers = pytest.importorskip("transformers")

from bgbench.errors import BgbenchError  # noqa: E402
from bgbench.models import create_classifier  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OC_CFG = {"embed_dim": 16,
          "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
          "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
OC_MEAN, OC_STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)


@pytest.fixture(scope="module")
def oc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny OpenCLIP model in open_clip's local-dir layout (config + safetensors)."""
    from open_clip.model import CLIP
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("oc")
    prep = {"mean": list(OC_MEAN), "std": list(OC_STD), "interpolation": "bilinear"}
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": OC_CFG, "preprocess_cfg": prep}))
    torch.manual_seed(0)
    model = CLIP(**OC_CFG)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / "open_clip_model.safetensors")
    return folder


def _word_tokenizer(words: set[str]):
    """An offline word-level fast tokenizer: [BOS] words [EOS], unknown words -> [UNK]."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3}
    vocab.update({w: i + 4 for i, w in enumerate(sorted(words))})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]",
                                                       special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   bos_token="[BOS]", eos_token="[EOS]")


TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def _hf_dir(folder: Path, family: str) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, SiglipConfig, SiglipModel

    text = " ".join(["dog bird vehicle reptile carnivore insect musical instrument primate fish"])
    words = {w for t in open_clip.OPENAI_IMAGENET_TEMPLATES for w in re.findall(r"\w+|[^\w\s]", t(text))}
    tokenizer = _word_tokenizer(words)
    text_cfg = {**TINY_TOWER, "vocab_size": len(words) + 4, "max_position_embeddings": 24,
                "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 0}
    vision_cfg = {**TINY_TOWER, "image_size": 32, "patch_size": 8}
    torch.manual_seed(1)
    if family == "clip":
        model = CLIPModel(CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=16))
    else:
        model = SiglipModel(SiglipConfig(text_config=text_cfg, vision_config=vision_cfg))
        with torch.no_grad():
            model.logit_bias.fill_(-3.0)
            model.logit_scale.fill_(2.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                       image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.3, 0.25]).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _hf_dir(tmp_path_factory.mktemp("hfclip"), "clip")


def _hf_normalised(x: torch.Tensor) -> torch.Tensor:
    """``x`` normalised by hand with the tiny image processor's mean/std (written above)."""
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.3, 0.25])
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def _images(n: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_open_clip_logits_equal_the_prompt_ensemble_by_hand(oc_dir: Path) -> None:
    clf = create_classifier(f"open_clip:local-dir:{oc_dir}", device="cpu", templates="simple")
    assert clf.num_outputs == 1000 and clf.preprocessing.input_size == 32
    x = _images()
    logits = clf(x)
    model = open_clip.create_model(f"local-dir:{oc_dir}").eval()
    tokenizer = open_clip.get_tokenizer(f"local-dir:{oc_dir}")
    classes = [0, 1, 151, 407, 999]  # a few columns, each computed on its own
    with torch.no_grad():
        mean, std = torch.tensor(OC_MEAN).view(1, 3, 1, 1), torch.tensor(OC_STD).view(1, 3, 1, 1)
        img = F.normalize(model.encode_image((x - mean) / std), dim=-1)
        cols = []
        for c in classes:
            prompts = [t(open_clip.IMAGENET_CLASSNAMES[c]) for t in open_clip.SIMPLE_IMAGENET_TEMPLATES]
            emb = F.normalize(model.encode_text(tokenizer(prompts)), dim=-1).mean(dim=0)
            cols.append(emb / emb.norm())
        expected = model.logit_scale.exp() * img @ torch.stack(cols).T
    torch.testing.assert_close(logits[:, classes], expected, rtol=1e-4, atol=1e-4)
    zs = clf.describe()["zero_shot"]
    assert zs["templates"] == [t("{}") for t in open_clip.SIMPLE_IMAGENET_TEMPLATES]
    assert zs["class_names"] == list(open_clip.IMAGENET_CLASSNAMES) and zs["n_prompts"] == 7000
    assert zs["text_model"]["library"] == "open_clip"
    assert zs["template_source"] == "open_clip.SIMPLE_IMAGENET_TEMPLATES"
    assert clf.describe()["output_space"] == "imagenet-1k" and len(clf.describe()["weights_sha256"]) == 64


def test_text_embeddings_are_cached_per_model_and_prompts(oc_dir: Path) -> None:
    from bgbench.models import zeroshot

    a = create_classifier(f"open_clip:local-dir:{oc_dir}", device="cpu", prompts="in9")
    keys = set(zeroshot._TEXT_CACHE)
    b = create_classifier(f"open_clip:local-dir:{oc_dir}", device="cpu", prompts="in9", precision="bf16")
    assert set(zeroshot._TEXT_CACHE) == keys  # nothing new computed (the text side is fp32 either way)
    assert torch.equal(a.module.text, b.module.text) and a.num_outputs == 9
    x = _images(4)
    torch.testing.assert_close(b(x), a(x), rtol=0.05, atol=0.3)  # bf16 autocast of the image tower
    c = create_classifier(f"open_clip:local-dir:{oc_dir}", device="cpu", prompts="in9", templates="simple")
    assert len(zeroshot._TEXT_CACHE) == len(keys) + 1 and not torch.equal(a.module.text, c.module.text)


def test_hf_clip_logits_equal_the_prompt_ensemble_by_hand(hf_dir: Path) -> None:
    clf = create_classifier(f"hf_clip:{hf_dir}", device="cpu", prompts="in9")
    assert clf.num_outputs == 9 and clf.preprocessing.mean == (0.4, 0.5, 0.6)
    x = _images(seed=3)
    model = transformers.CLIPModel.from_pretrained(hf_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    names = ["dog", "bird", "vehicle", "reptile", "carnivore", "insect", "musical instrument", "primate",
             "fish"]
    with torch.no_grad():
        img = model.get_image_features(pixel_values=_hf_normalised(x))
        img = F.normalize(getattr(img, "pooler_output", img), dim=-1)
        cols = []
        for name in names:
            enc = tokenizer([t(name) for t in open_clip.OPENAI_IMAGENET_TEMPLATES], padding=True,
                            return_tensors="pt")
            feats = model.get_text_features(**enc)
            emb = F.normalize(getattr(feats, "pooler_output", feats), dim=-1).mean(dim=0)
            cols.append(emb / emb.norm())
        expected = model.logit_scale.exp() * img @ torch.stack(cols).T
    torch.testing.assert_close(clf(x), expected, rtol=1e-4, atol=1e-4)
    zs = clf.describe()["zero_shot"]
    assert zs["class_names"] == names and zs["n_templates"] == 80 and zs["logit_bias"] is None
    assert zs["text_model"]["model_type"] == "clip" and zs["text_model"]["padding"] == "longest"


def test_hf_siglip_adds_its_shared_bias_which_changes_no_prediction(tmp_path: Path) -> None:
    folder = _hf_dir(tmp_path / "siglip", "siglip")
    clf = create_classifier(f"hf_clip:{folder}", device="cpu", prompts="in9", templates="simple")
    x = _images(seed=5)
    model = transformers.SiglipModel.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        img = model.get_image_features(pixel_values=_hf_normalised(x))
        img = F.normalize(getattr(img, "pooler_output", img), dim=-1)
        names = clf.describe()["zero_shot"]["class_names"]
        prompts = [t(n) for n in names for t in open_clip.SIMPLE_IMAGENET_TEMPLATES]
        enc = tokenizer(prompts, padding="max_length", max_length=24, return_tensors="pt")
        feats = model.get_text_features(**enc)  # what the tokenizer returns (real SigLIP: no mask)
        emb = F.normalize(getattr(feats, "pooler_output", feats), dim=-1).view(9, 7, -1).mean(dim=1)
        cosine = img @ F.normalize(emb, dim=-1).T
    logits = clf(x)
    torch.testing.assert_close(logits, model.logit_scale.exp() * cosine - 3.0, rtol=1e-4, atol=1e-4)
    assert torch.equal(logits.argmax(1), cosine.argmax(1))
    zs = clf.describe()["zero_shot"]
    assert zs["logit_bias"] == -3.0 and zs["text_model"]["padding"] == "max_length"


def test_cli_eval_end_to_end_records_prompts_and_text_model(oc_dir, hf_dir, synth_built, tmp_path, capsys):
    from bgbench.cli import main

    out = tmp_path / "oc"
    rc = main(["eval", str(synth_built), "--model", f"open_clip:local-dir:{oc_dir}", "--prompts", "in9",
               "--variants", "original,mixed_rand", "--out", str(out), "--device", "cpu", "--no-cache", "-q"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "eval.json").read_text())
    assert doc["label_map"]["num_outputs"] == 9 and doc["n"] == {"original": 27, "mixed_rand": 27}
    zs = doc["model_info"]["zero_shot"]
    assert zs["prompts"] == "in9" and len(zs["templates"]) == 80
    assert zs["text_model"]["model"] == f"local-dir:{oc_dir}"
    assert all(0 <= p < 9 for p in doc["predictions"]["original"]["pred"])
    out = tmp_path / "hf"
    rc = main(["eval", str(synth_built), "--model", f"hf_clip:{hf_dir}", "--templates", "simple",
               "--variants", "original", "--out", str(out), "--device", "cpu", "--no-cache", "-q"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "eval.json").read_text())
    assert doc["map_rule"] == "released" and doc["label_map"]["num_outputs"] == 1000
    assert doc["model_info"]["zero_shot"]["n_prompts"] == 7000
    assert all(0 <= t < 1000 for t in doc["predictions"]["original"]["top1"])


def test_saliency_gradients_flow_through_the_image_tower(oc_dir, synth_built) -> None:
    import bgbench
    from bgbench.explain.attribution import class_scores
    from bgbench.options import ModelOptions
    from bgbench.predict import make_predictor

    options = ModelOptions(f"open_clip:local-dir:{oc_dir}", prompts="in9", device="cpu")
    folders = [f.name for f in sorted((synth_built / "original" / "val").iterdir())]
    predictor = make_predictor(options, folders)
    scorer = class_scores(predictor)
    x = _images(2).requires_grad_(True)
    scorer(x)[:, 0].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    conv = predictor.classifier.module.image_tower.conv1.weight
    assert conv.grad is not None and float(conv.grad.abs().sum()) > 0
    model = ModelOptions.of(f"open_clip:local-dir:{oc_dir}", prompts="in9", device="cpu")
    config = bgbench.SaliencyConfig(method="saliency", subset=bgbench.ImageSubset(images=4),
                                    cache=bgbench.CacheChoice(cache=False))
    result = bgbench.saliency(synth_built, model, config, quiet=True)
    entry = result.models[0]
    assert entry["model_info"]["zero_shot"]["prompts"] == "in9" and entry["n"] == 4
    assert result.focus() is not None and entry["foreground_share"] > 0


def test_options_and_specs_fail_in_one_line(oc_dir: Path) -> None:
    from bgbench.options import ModelOptions

    with pytest.raises(BgbenchError, match="--prompts applies only to zero-shot models"):
        create_classifier("timm:resnet18", prompts="in9", pretrained=False)
    with pytest.raises(BgbenchError, match="unknown --prompts set 'cats'"):
        ModelOptions(spec="open_clip:ViT-B-32/openai", prompts="cats")
    with pytest.raises(BgbenchError, match=r"names no weights: use open_clip:ViT-B-32/TAG \(tags: openai"):
        create_classifier("open_clip:ViT-B-32", device="cpu")
    with pytest.raises(BgbenchError, match="unknown open_clip architecture 'ViT-Q-99'"):
        create_classifier("open_clip:ViT-Q-99/openai", device="cpu")
    with pytest.raises(BgbenchError, match="folder not found"):
        create_classifier(f"open_clip:local-dir:{oc_dir}/nope", device="cpu")
    with pytest.raises(BgbenchError, match="no config.json"):
        create_classifier(f"hf_clip:{oc_dir}", device="cpu")


def test_missing_open_clip_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from bgbench.models.zeroshot import prompt_set

    monkeypatch.setitem(sys.modules, "open_clip", None)  # import open_clip now raises ImportError
    with pytest.raises(BgbenchError, match=r"pip install 'bgbench\[clip\]'"):
        prompt_set("in9")
    with pytest.raises(BgbenchError, match=r"pip install 'bgbench\[clip\]'"):
        create_classifier("open_clip:ViT-B-32/openai", device="cpu")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(BgbenchError, match=r"need transformers: pip install 'bgbench\[hf,clip\]'"):
        create_classifier("hf_clip:openai/clip-vit-base-patch32", device="cpu")


@pytest.mark.slow
def test_offline_pretrained_weights_are_one_line_exit_2(synth_built: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf"), "BGBENCH_PROGRESS": "0"}
    proc = subprocess.run([sys.executable, "-m", "bgbench", "eval", str(synth_built), "--model",
                           "open_clip:ViT-B-32/laion2b_s34b_b79k", "--device", "cpu", "-q"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "pretrained:open_clip/ViT-B-32/laion2b_s34b_b79k" in lines[0] and "offline?" in lines[0]
    proc = subprocess.run([sys.executable, "-m", "bgbench", "eval", str(synth_built), "--model",
                           "hf_clip:openai/clip-vit-base-patch32", "--device", "cpu", "-q"],
                          env=env, capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "could not load 'openai/clip-vit-base-patch32'" in lines[0] and "offline?" in lines[0]


@pytest.mark.slow
def test_challenge_sweep_and_report_take_a_zero_shot_model(oc_dir, synth_built, tmp_path, capsys):
    from bgbench.cli import main

    spec = f"open_clip:local-dir:{oc_dir}"
    out = tmp_path / "challenge"
    rc = main(["challenge", str(synth_built), "--model", spec, "--prompts", "in9", "--out", str(out),
               "--device", "cpu", "--no-cache", "-q"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "challenge.json").read_text())
    assert doc["n_foregrounds"] == 27 and doc["model"]["zero_shot"]["prompts"] == "in9"
    models = tmp_path / "models.toml"
    models.write_text(f'[[model]]\nname = "tiny-in9"\nspec = "{spec}"\nprompts = "in9"\n'
                      f'[[model]]\nname = "tiny-1k"\nspec = "{spec}"\ntemplates = "simple"\n')
    rc = main(["sweep", str(models), str(synth_built), "--variants", "original,mixed_same,mixed_rand",
               "--out", str(tmp_path / "sweep"), "--device", "cpu", "--no-cache", "-q"])
    assert rc == 0, capsys.readouterr().err
    runs = {name: json.loads((tmp_path / "sweep" / name / "eval.json").read_text())
            for name in ("tiny-in9", "tiny-1k")}
    assert runs["tiny-in9"]["label_map"]["num_outputs"] == 9
    assert runs["tiny-1k"]["model_info"]["zero_shot"]["template_set"] == "simple"
    report = tmp_path / "report.html"
    rc = main(["report", str(tmp_path / "sweep" / "tiny-in9" / "eval.json"), str(out / "challenge.json"),
               "-o", str(report)])
    assert rc == 0, capsys.readouterr().err
    assert spec in report.read_text()


def test_training_a_zero_shot_model_is_refused_in_one_line(oc_dir: Path) -> None:
    from bgbench.options import ModelOptions
    from bgbench.training.network import make_network

    opts = ModelOptions(spec=f"open_clip:local-dir:{oc_dir}", prompts="in9")
    with pytest.raises(BgbenchError, match="cannot train a zero-shot model yet") as info:
        make_network(opts, 9, torch.device("cpu"))
    assert "\n" not in str(info.value)
