"""The fenced code blocks of README.md and docs/*.md, as the executable-docs test runs them (test helper).

A page's blocks run in order in one folder, so later blocks see what earlier ones made. What runs:
``bash``/``sh``/``shell`` blocks, a command at a time (backslash continuations joined), and
``python`` blocks, each as one script. A block whose info string names a file
(```` ```toml file=zoo.toml ````) is written to that file instead. Blocks without a language, or
``text``, are output or layouts and are not run.

Quoted output. A ```` ```text output ```` block right after a runnable block is what the last command
(or Python block) before it prints: the test runs that command and requires every quoted line, in
order, among the lines it printed (stdout and stderr), compared in *shape*: numbers become ``#`` and
runs of spaces one space (:func:`shape`), so a figure measured on other data still matches while a
renamed label, a dropped column or a missing line does not. A quoted line ``...`` stands for lines
left out.

A command or a Python block that cannot run on a CI machine says why where the reader sees it: a
``# needs: <what>[, <what>]`` comment (on the command's line, or on the first line of a Python block), where
``<what>`` is ``network``, ``gpu``, ``imagenet``, ``coco``, ``voc``, ``realdata`` (the real photos and
models of ``../shared/realdata``), ``cluster`` (a SLURM cluster) or ``long`` (more than a few minutes on
a CPU). The test skips those it
cannot offer and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```([A-Za-z]*)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
NEEDS = re.compile(r"#\s*needs:\s*([a-z]+(?:\s*,\s*[a-z]+)*)")
SHELL = {"bash", "sh", "shell"}
KNOWN_NEEDS = {"network", "gpu", "imagenet", "coco", "voc", "realdata", "long", "cluster"}


@dataclass
class Step:
    """One thing to run: a shell command, a Python script, or a file to write."""

    page: str
    line: int
    kind: str  # "shell", "python" or "file"
    text: str
    target: str | None = None  # the file name of a "file" step
    needs: list[str] = field(default_factory=list)
    expected: str | None = None  # the ```text output``` block quoted after this step, if any

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _needs(text: str) -> list[str]:
    """The markers of ``# needs: a, b`` comments in ``text``."""
    return [name.strip() for group in NEEDS.findall(text) for name in group.split(",")]


def _shell_commands(body: str, first_line: int) -> list[tuple[int, str]]:
    """(line number, command) for each command of a shell block; continuations joined, comments kept."""
    commands, current, start = [], "", first_line
    for offset, raw in enumerate(body.splitlines()):
        if not current:
            start = first_line + offset
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        commands.append((start, current + raw))
        current = ""
    if current:
        commands.append((start, current))
    return commands


def page_steps(path: Path, root: Path) -> list[Step]:
    """Every runnable step of one Markdown page, in page order."""
    text = path.read_text(encoding="utf-8")
    name = str(path.relative_to(root))
    steps: list[Step] = []
    for match in FENCE.finditer(text):
        lang, info, body = match.group(1).lower(), match.group(2), match.group(3)
        first = text.count("\n", 0, match.start(3)) + 1
        target = re.search(r"file=(\S+)", info)
        if lang == "text" and info.split() == ["output"]:
            where = f"{name}:{first}"
            assert steps and steps[-1].kind != "file", f"{where}: an output block must follow a command"
            assert steps[-1].expected is None, f"{where}: two output blocks for one command"
            steps[-1].expected = body
        elif target:
            steps.append(Step(name, first, "file", body, target=target.group(1)))
        elif lang in SHELL:
            for line, command in _shell_commands(body, first):
                steps.append(Step(name, line, "shell", command, needs=_needs(command)))
        elif lang == "python":
            head = body.lstrip().splitlines()[0] if body.strip() else ""
            steps.append(Step(name, first, "python", body, needs=_needs(head)))
    for step in steps:
        unknown = set(step.needs) - KNOWN_NEEDS
        assert not unknown, f"{step.where}: unknown '# needs:' marker {sorted(unknown)}"
    return steps


NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,:]\d+)*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?")


RULE = re.compile(r"([─━═┄┅])\1+")


def shape(line: str) -> str:
    """``line`` with every number (signed, decimal, 1,234, 12:05, 1e-3) as ``#``, runs of one table-rule
    character (``━━━``) as one and whitespace runs as one space, stripped:
    ``"  original   95.0% [91, 97]"`` -> ``"original #% [#, #]"``, so a table's borders match whatever
    its column widths."""
    return " ".join(RULE.sub(r"\1", NUMBER.sub("#", line)).split())


def output_problem(expected: str, printed: str) -> str | None:
    """None when every quoted line of ``expected`` (except ``...``) appears in shape, in order, among the
    lines of ``printed``; else which quoted line was not found."""
    lines = [shape(line) for line in printed.splitlines()]
    position = 0
    for quoted in expected.splitlines():
        wanted = shape(quoted)
        if not wanted or wanted == "...":
            continue
        try:
            position = lines.index(wanted, position) + 1
        except ValueError:
            return f"quoted line not printed (in this shape, after the lines before it): {quoted.strip()!r}"
    return None
