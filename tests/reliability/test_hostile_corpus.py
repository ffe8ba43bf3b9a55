"""A sample of the hostile corpus (tests/reliability/hostile_corpus.py) in the default tests: the
whole public-API part, and the seed, file and point cases of the command line.  The full corpus
(750 cases, several minutes) is run as a script; its counts are in the issue's closing note."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("hostile_corpus", Path(__file__).with_name("hostile_corpus.py"))
corpus = importlib.util.module_from_spec(_spec)
sys.modules["hostile_corpus"] = corpus  # dataclasses look their module up
_spec.loader.exec_module(corpus)

SAMPLE = ("api: ", "seeds", "files", "points (--at)")
CASES = [c for c in corpus.all_cases() if c.category.startswith(SAMPLE)]


def _param(c):
    marks = [pytest.mark.xfail(strict=False, reason=c.xfail)] if c.xfail else []
    return pytest.param(c, id=f"{c.category}: {c.name()}"[:120], marks=marks)


def test_the_sample_is_broad():
    assert len(CASES) >= 200 and len(corpus.all_cases()) >= 300


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_case(case):
    o = corpus.run_case(case, limit_s=60)
    assert o.ok, o.why
