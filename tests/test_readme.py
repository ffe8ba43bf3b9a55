"""The README shows real output: its Python examples run as doctests, its console examples are
re-run through the CLI and compared line by line."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest

from diffkit.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_exactly_two_commands():
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.S).group(1)
    assert block.strip().splitlines() == ["make demo", "make test"]


def test_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    session: dict = {}  # one reader's session: later blocks use names from earlier ones
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, session, f"README-python-{i}", "README.md", 0)
        runner.run(test, clear_globs=False)
        session = test.globs
    assert runner.summarize(verbose=False).failed == 0


def _console_examples():
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        cmd, out = None, []
        for line in block.splitlines() + ["$ end"]:
            if line.startswith("$ "):
                if cmd is not None and cmd.startswith("diffkit "):
                    yield cmd, out
                cmd, out = line[2:], []
            else:
                out.append(line)


@pytest.mark.parametrize("cmd,expected", list(_console_examples()), ids=lambda v: v if isinstance(v, str) else "")
def test_console_examples_match(cmd, expected, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # the examples are shown at 100 columns
    if "--report" in cmd:  # writes files; checked by the report tests
        pytest.skip("report example")
    main(shlex.split(cmd)[1:])
    got = capsys.readouterr()
    lines = (got.out + got.err).rstrip("\n").splitlines()
    assert [ln.rstrip() for ln in lines] == [ln.rstrip() for ln in expected]
