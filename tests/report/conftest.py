"""Shared, small inputs for the report tests: one Comparison, one tiny study, a few swell rows.

Everything is built once per session so the whole report test suite stays fast.
"""

import pytest


@pytest.fixture(scope="session")
def comparison():
    from diffkit import builtin
    from diffkit.analysis.compare import compare

    return compare(builtin("ridge-sigmoid"), points=3, seed=0)


@pytest.fixture(scope="session")
def small_study():
    from diffkit.report import StudySettings, report_study

    return report_study(settings=StudySettings(n=200, d=2, epochs=3, seeds=(0, 1), timing=False))


@pytest.fixture(scope="session")
def swell_rows():
    from diffkit.analysis.swell import swell_table

    return swell_table(4)


@pytest.fixture(scope="session")
def baydin():
    from diffkit.analysis.swell import baydin_rows

    return baydin_rows(2)


@pytest.fixture(scope="session")
def report(tmp_path_factory, comparison, small_study, swell_rows, baydin):
    """The written report (``Written``: html, pdf, document) of the small inputs."""
    from diffkit.report import write_report

    out = tmp_path_factory.mktemp("report") / "ridge-sigmoid.html"
    return write_report(comparison, out, study=small_study, swell_rows=swell_rows, baydin=baydin)


@pytest.fixture(scope="session")
def mlp_report(tmp_path_factory, small_study, swell_rows, baydin):
    """The report of the built-in MLP (the big model a report must summarise)."""
    from diffkit import builtin
    from diffkit.analysis.compare import compare
    from diffkit.report import write_report

    c = compare(builtin("mlp"), points=2, seed=0)
    out = tmp_path_factory.mktemp("mlp") / "mlp.html"
    return write_report(c, out, study=small_study, swell_rows=swell_rows, baydin=baydin)
