"""``bgbench train DATA``: train or fine-tune on a variant, or retrain the last layer (parses options,
calls bgbench.training.train)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import (
    CacheChoice,
    OptionSpec,
    bounded,
    cache_options,
    default_out,
    inject_options,
    model_options,
)
from bgbench.options import ModelOptions

RECIPE_SPECS = [
    OptionSpec("optimizer", ("--optimizer",), str, "adamw or sgd (momentum 0.9, Nesterov).", "adamw"),
    OptionSpec("epochs", ("--epochs",), int, "Epochs (default 10; head-only 30).", low=1),
    OptionSpec("lr", ("--lr",), float, "Peak learning rate (default: see the recipe).", low=0,
               low_open=True),
    OptionSpec("weight_decay", ("--weight-decay",), float, "Weight decay (default: see the recipe).", low=0),
    OptionSpec("batch_size", ("--batch-size", "-b"), int, "Batch size (default 64; head-only 256).", low=1),
    OptionSpec("warmup_epochs", ("--warmup-epochs",), float,
               "Linear warm-up epochs before the cosine.", 1.0, low=0),
    OptionSpec("label_smoothing", ("--label-smoothing",), float,
               "Label smoothing of the loss.", 0.1, low=0, high=1, high_open=True),
    OptionSpec("input_size", ("--input-size",), int,
               "Train and test at this size (default: the model's).", low=1),
    OptionSpec("no_flip", ("--no-flip",), bool, "No horizontal flips.", False),
]
SWAP_SPECS = [
    OptionSpec("swap", ("--swap",), float, "Background-swap probability p (0 = off).", 0.0, low=0, high=1),
    OptionSpec("swap_classes", ("--swap-classes",), str,
               "any (backgrounds of every class, independent of the label) or other (never the "
               "foreground's own class).", "any"),
    OptionSpec("swap_draws", ("--swap-draws",), int,
               "Composites per training image with --head-only.", 4, low=1),
    OptionSpec("swap_scale", ("--swap-scale",), str, "Foreground scale range LOW,HIGH.", "1,1"),
    OptionSpec("swap_translate", ("--swap-translate",), float,
               "Largest foreground shift, as a fraction of the side.", 0.0, low=0, high=1),
]


def _recipe(v: dict):
    from bgbench.training import Recipe

    return Recipe(optimizer=v["optimizer"], lr=v["lr"], weight_decay=v["weight_decay"], epochs=v["epochs"],
                  warmup_epochs=v["warmup_epochs"], label_smoothing=v["label_smoothing"],
                  batch_size=v["batch_size"], flip=not v["no_flip"], input_size=v["input_size"])


def _swap(v: dict):
    from bgbench.errors import BgbenchError
    from bgbench.training import Swap

    if not v["swap"]:
        return None
    try:
        low, high = (float(x) for x in v["swap_scale"].split(","))
    except ValueError as exc:
        raise BgbenchError(f"--swap-scale must look like LOW,HIGH (e.g. 0.5,1.5), "
                           f"got {v['swap_scale']!r}") from exc
    return Swap(p=v["swap"], classes=v["swap_classes"], draws=v["swap_draws"], scale=(low, high),
                translate=v["swap_translate"])


def _removed_no_amp(value: bool) -> bool:
    """``--no-amp`` is gone (hidden, kept only to say so): ``--precision`` alone sets the autocast."""
    if value:
        from bgbench.errors import BgbenchError

        raise BgbenchError("--no-amp is gone: training is fp32 unless --precision bf16 is given "
                           "(--precision sets the autocast of every command)")
    return value


def _recipe_help(doc: str) -> str:
    """The recipe module's docstring (after its first paragraph) as help text: one paragraph per
    bullet, whitespace collapsed, double backquotes dropped."""
    parts = []
    for paragraph in doc.split("\n\n")[1:]:
        items = paragraph.strip().split("\n- ")
        parts += [("- " if k else "") + " ".join(item.split()).replace("``", "")
                  for k, item in enumerate(items)]
    if parts:  # the docstring's own pointer to this help would read as a loop here
        parts[0] = parts[0].replace("; bgbench train --help prints it", "")
    return "\n\n".join(parts)


def _help() -> str:
    from bgbench.training import recipe as recipe_module

    return ("Train on the train split of a variant and evaluate on the val split of every variant (of DATA, "
            "or of --eval-data).\n\n"
            "Data-parallel under torchrun: torchrun --nproc_per_node N -m bgbench train ... (--batch-size "
            "is per process; only rank 0 writes).\n\n"
            "Modes: full training / fine-tuning of --model (its head replaced by one output per class "
            "folder), --model timm:NAME --scratch (that architecture from random weights), or --head-only "
            "(last-layer retraining on cached features of the frozen backbone). --precision is the autocast "
            "of every forward pass, on the CPU and a GPU alike: fp32 (default, exact) or bf16 for training "
            "(bf16 is the fast choice on a GPU), any for --head-only's features; --device and --preprocess "
            "apply in every mode; --arch is only a ckpt: file's architecture. Writes OUT/model.safetensors + "
            "model.json (load it with --model "
            "ckpt:OUT/model.safetensors), train.json, eval/ and (--challenge) challenge/; a killed full "
            "training resumes from its last finished epoch.\n\n" + _recipe_help(recipe_module.__doc__ or ""))


def register(app: typer.Typer) -> None:
    @app.command("train", help=_help())
    @common.output_options("train.json")
    @model_options
    @cache_options
    @inject_options(RECIPE_SPECS, "recipe", _recipe)
    @inject_options(SWAP_SPECS, "swap", _swap)
    def train_command(
        data: Path = typer.Argument(..., help="Dataset root with <variant>/train/<class>/... (and val/)."),
        variant: str = typer.Option("original", "--variant", "-V", help="Variant to train on."),
        out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: bgbench-results/...)."),
        head_only: bool = typer.Option(False, "--head-only", help="Retrain only the last layer."),
        seed: int = typer.Option(0, "--seed", help="Seed of the head, the data order, crops and swaps."),
        split: str = common.split_option("train", "Training split."),
        eval_split: str = typer.Option("val", "--eval-split", help="Split evaluated at the end."),
        eval_data: Path = typer.Option(None, "--eval-data",
                                       help="Evaluate (and --challenge) on this tree instead of DATA, e.g. "
                                            "the official IN-9 from bgbench download in9."),
        no_eval: bool = typer.Option(False, "--no-eval", help="Train only: no evaluation at the end."),
        eval_variants: str = typer.Option(None, "--eval-variants",
                                          help="Comma list of variants to evaluate (default: all present)."),
        log: str = typer.Option(None, "--log", "--tracker",
                                help="Track the run: tensorboard, mlflow or wandb (under torchrun write "
                                     "--tracker: torchrun reads --log as its own --log-dir)."),
        draws: int = typer.Option(None, "--draws", callback=bounded("--draws", 1),
                                  help="Evaluate with K donor backgrounds per foreground."),
        challenge: bool = typer.Option(False, "--challenge", help="Also run the challenge (eval split)."),
        scratch: bool = typer.Option(False, "--scratch",
                                     help="Random initial weights: train --model timm:NAME (or "
                                          "torchvision:NAME) from scratch instead of fine-tuning it."),
        no_amp: bool = typer.Option(False, "--no-amp", hidden=True, callback=_removed_no_amp),
        *, model: ModelOptions, cache: CacheChoice, recipe, swap, output: common.Output,
    ) -> None:
        from bgbench.training import EvalPlan, TrainConfig, train

        if scratch:
            model = model.with_(pretrained=False)
        name = f"{variant}-" + ("head-" if head_only else "") + model.spec
        suffixes = ("scratch" if scratch else "", f"swap{swap.p:g}" if swap else "")
        target = out if out is not None else default_out("train", name, *suffixes)
        config = TrainConfig(variant=variant, head_only=head_only, recipe=recipe, swap=swap, seed=seed,
                             split=split, evaluation=EvalPlan(eval_split, draws, challenge, eval_variants,
                                                              data=eval_data, enabled=not no_eval),
                             log=log, cache=cache)
        result = train(data, model, config, out=target, quiet=output.quiet)
        if result.source_path is None:  # not rank 0 of a torchrun job: rank 0 reports
            return
        common.emit(result, output, wrote=[target / "model.safetensors", "model.json", result.FILENAME])
