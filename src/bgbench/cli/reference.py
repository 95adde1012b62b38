"""docs/cli.md, generated from the command definitions themselves (so the reference cannot go stale).

``python -m bgbench.cli.reference > docs/cli.md`` rewrites it; ``tests/test_cli_reference.py`` fails
when the file and :func:`render_cli_reference` differ. Every command gets its summary, its usage line
and a table of its arguments and options: flags, default and meaning, in the order ``--help`` lists them.
"""

from __future__ import annotations

import sys

import click

HEADER = """# Command-line reference

Generated from the command definitions by `python -m bgbench.cli.reference > docs/cli.md`; a test
fails when this page and the code differ. `bgbench COMMAND --help` prints the same text. The guides
(README.md and the other pages of docs/) say when to use what.
"""


def _cell(text: str) -> str:
    """``text`` made safe for one Markdown table cell (one line, pipes escaped)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _is_argument(param: click.Parameter) -> bool:
    return param.param_type_name == "argument"


def _default(param: click.Parameter) -> str:
    if _is_argument(param):
        return "required" if param.required else ""
    if getattr(param, "is_flag", False):
        return "on" if param.default else "off"
    default = param.default
    if default is None or default == "" or callable(default):
        return ""
    if isinstance(default, (tuple, list)):
        return ", ".join(str(d) for d in default)
    return f"`{default}`"


def _flags(param: click.Parameter) -> str:
    if _is_argument(param):
        return f"`{param.name.upper()}`"
    names = list(param.opts) + list(param.secondary_opts)
    return ", ".join(f"`{n}`" for n in names)


def _command_section(name: str, command: click.Command, ctx: click.Context) -> list[str]:
    sub = click.Context(command, info_name=name, parent=ctx)
    usage = " ".join(command.collect_usage_pieces(sub))
    lines = [f"## bgbench {name}", "", _cell(command.help or command.short_help or ""), "",
             "```text", f"bgbench {name} {usage}".rstrip(), "```", "",
             "| argument or option | default | meaning |", "| --- | --- | --- |"]
    for param in command.get_params(sub):
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        meaning = _cell(getattr(param, "help", "") or "")
        lines.append(f"| {_flags(param)} | {_cell(_default(param))} | {meaning} |")
    return [*lines, ""]


def render_cli_reference() -> str:
    """The whole of docs/cli.md as Markdown text: one section per command, in alphabetical order."""
    from typer.main import get_command

    from bgbench.cli import app

    group = get_command(app)
    ctx = click.Context(group, info_name="bgbench")
    lines = [HEADER, "| command | what it does |", "| --- | --- |"]
    names = sorted(group.list_commands(ctx))
    for name in names:
        command = group.get_command(ctx, name)
        lines.append(f"| [`bgbench {name}`](#bgbench-{name}) | {_cell(command.get_short_help_str(200))} |")
    lines.append("")
    for name in names:
        lines.extend(_command_section(name, group.get_command(ctx, name), ctx))
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Print the reference to stdout."""
    sys.stdout.write(render_cli_reference())


if __name__ == "__main__":
    main()
