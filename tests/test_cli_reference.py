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
            for flag in getattr(param, "opts", []):
                shown = f"`{flag}`" if flag.startswith("-") else f"`{param.name.upper()}`"
                assert shown in section, (name, flag)
