"""``bgbench train DATA``: train or fine-tune on a variant, or retrain the last layer (parses options,
calls bgbench.training.train)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli.common import CacheChoice, cache_options, default_out, model_options, quiet_option
from bgbench.options import ModelOptions


def _pair(text: str, flag: str) -> tuple[float, float]:
    from bgbench.errors import BgbenchError

    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise BgbenchError(f"{flag} must look like LOW,HIGH (e.g. 0.5,1.5), got {text!r}") from exc
    return low, high


def _recipe_help(doc: str) -> str:
    """The recipe module's docstring (after its first paragraph) as help text: one paragraph per
    bullet, whitespace collapsed, double backquotes dropped."""
    parts = []
    for paragraph in doc.split("\n\n")[1:]:
        items = paragraph.strip().split("\n- ")
        parts += [
            ("- " if k else "") + " ".join(item.split()).replace("``", "") for k, item in enumerate(items)
        ]
    return "\n\n".join(parts)


def register(app: typer.Typer) -> None:
    from bgbench.training import recipe as recipe_module

    @app.command(
        "train",
        help=(
            "Train on the train split of a variant and evaluate on the val split of every variant.\n\n"
            "Modes: full training / fine-tuning of --model (its head replaced by one output per class "
            "folder), --arch NAME (a timm architecture from scratch; with a ckpt: model --arch is the "
            "checkpoint's architecture instead), or --head-only (last-layer retraining on cached features "
            "of the frozen backbone). Writes OUT/model.safetensors + model.json (load it with --model "
            "ckpt:OUT/model.safetensors), train.json, eval/ and (--challenge) challenge/; a killed full "
            "training resumes from its last finished epoch.\n\n" + _recipe_help(recipe_module.__doc__ or "")
        ),
    )
    @model_options
    @cache_options
    def train_command(
        data: Path = typer.Argument(..., help="Dataset root with <variant>/train/<class>/... (and val/)."),
        variant: str = typer.Option("original", "--variant", "-V", help="Variant whose train split is used."),
        out: Path = typer.Option(
            None, "--out", "-o", help="Output folder (default bgbench-results/train-...)."
        ),
        head_only: bool = typer.Option(
            False, "--head-only", help="Retrain only the last layer (frozen backbone)."
        ),
        optimizer: str = typer.Option("adamw", "--optimizer", help="adamw or sgd (momentum 0.9, Nesterov)."),
        epochs: int = typer.Option(None, "--epochs", help="Epochs (default 10; head-only 30)."),
        lr: float = typer.Option(None, "--lr", help="Peak learning rate (default: see the recipe)."),
        weight_decay: float = typer.Option(
            None, "--weight-decay", help="Weight decay (default: see the recipe)."
        ),
        batch_size: int = typer.Option(
            None, "--batch-size", "-b", help="Batch size (default 64; head-only 256)."
        ),
        warmup_epochs: float = typer.Option(
            1.0, "--warmup-epochs", help="Linear warm-up epochs before cosine."
        ),
        label_smoothing: float = typer.Option(0.1, "--label-smoothing", help="Label smoothing of the loss."),
        input_size: int = typer.Option(
            None, "--input-size", help="Train and test at this size (default: model's)."
        ),
        no_flip: bool = typer.Option(False, "--no-flip", help="No horizontal flips."),
        swap: float = typer.Option(0.0, "--swap", help="Background-swap probability p (0 = off)."),
        swap_classes: str = typer.Option(
            "other", "--swap-classes", help="other (never the foreground's own class) or any."
        ),
        swap_draws: int = typer.Option(4, "--swap-draws", help="Composites per image with --head-only."),
        swap_scale: str = typer.Option("1,1", "--swap-scale", help="Foreground scale range LOW,HIGH."),
        swap_translate: float = typer.Option(
            0.0, "--swap-translate", help="Largest foreground shift, fraction of the side."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the head, data order, crops and swaps."),
        split: str = typer.Option("train", "--split", help="Training split."),
        eval_split: str = typer.Option("val", "--eval-split", help="Split evaluated at the end."),
        challenge: bool = typer.Option(
            False, "--challenge", help="Also run the challenge on the eval split."
        ),
        no_amp: bool = typer.Option(False, "--no-amp", help="fp32 on a GPU too (default: bf16 autocast)."),
        quiet: bool = quiet_option(),
        model: ModelOptions = None,
        cache: CacheChoice = None,
    ) -> None:
        import sys

        from bgbench.training import Recipe, train

        scratch = model.arch is not None and not model.spec.startswith("ckpt:")
        recipe = Recipe(
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            epochs=epochs,
            warmup_epochs=warmup_epochs,
            label_smoothing=label_smoothing,
            batch_size=batch_size,
            flip=not no_flip,
            input_size=input_size,
        )
        name = f"{variant}-" + ("head-" if head_only else "") + (model.arch if scratch else model.spec)
        target = out if out is not None else default_out("train", name, f"swap{swap:g}" if swap else "")
        result = train(
            data,
            None if scratch else model,
            arch=model.arch if scratch else None,
            out=target,
            variant=variant,
            head_only=head_only,
            recipe=recipe,
            swap=swap,
            swap_classes=swap_classes,
            swap_draws=swap_draws,
            swap_scale=_pair(swap_scale, "--swap-scale"),
            swap_translate=swap_translate,
            seed=seed,
            split=split,
            eval_split=eval_split,
            challenge=challenge,
            amp=not no_amp,
            cache=cache.cache,
            cache_dir=cache.cache_dir,
            quiet=quiet,
            **({"device": model.device} if scratch else {}),
        )
        typer.echo(str(result))
        print(f"wrote {target / 'model.safetensors'}, model.json and train.json", file=sys.stderr)
