"""docs/cli.md is generated from the command definitions and must match them."""

from __future__ import annotations

from pathlib import Path

from bgbench.cli.reference import render_cli_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_current():
    assert DOC.read_text(encoding="utf-8") == render_cli_reference(), (
        "docs/cli.md is stale: run `python -m bgbench.cli.reference > docs/cli.md`")


def test_cli_reference_lists_every_command_and_option():
    from typer.main import get_command

    from bgbench.cli import app

    text = render_cli_reference()
    group = get_command(app)
    for name, command in group.commands.items():
        assert f"## bgbench {name}\n" in text
        section = text.split(f"## bgbench {name}\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            if getattr(param, "hidden", False):  # a removed flag kept only to name its replacement
                continue
            for flag in getattr(param, "opts", []):
                shown = f"`{flag}`" if flag.startswith("-") else f"`{param.name.upper()}`"
                assert shown in section, (name, flag)


def _helps(flag: str) -> dict[str, str]:
    """{command: the help of its ``flag`` option} for every command that has it."""
    from typer.main import get_command

    from bgbench.cli import app

    found = {}
    for name, command in get_command(app).commands.items():
        for param in command.params:
            if flag in getattr(param, "opts", []):
                found[name] = " ".join((param.help or "").split())
    return found


def test_shared_flags_mean_one_thing_in_every_command():
    """--workers (tasks at once), --executor, --per-class (at most N per class) and --arch (a ckpt:
    file's architecture) come from one definition each: one wording, each command's default stated."""
    workers = _helps("--workers")
    assert set(workers) == {"build", "challenge", "sweep", "synth"}
    for name, text in workers.items():
        assert text.startswith("How many ") and " run at once: " in text and "(default: " in text, name
    assert "Ray workers with --executor ray, which also makes N shards" in workers["challenge"]
    executors = _helps("--executor")
    assert set(executors) == {"build", "challenge", "sweep"}
    assert all(t.startswith("How the ") and "serial: one at a time in this process" in t
               for t in executors.values())
    assert "(default: process)" in executors["build"] and "(default: serial)" in executors["sweep"]
    per_class = _helps("--per-class")
    assert set(per_class) == {"build", "synth", "saliency", "probe"}
    for name, text in per_class.items():
        assert text.startswith("At most N images per class: ") and "(default: " in text, name
    assert per_class["saliency"] == per_class["probe"]
    arch = set(_helps("--arch").values())
    assert len(arch) == 1 and "ckpt: specs only" in arch.pop()
