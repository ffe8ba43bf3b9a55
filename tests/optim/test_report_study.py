"""The report's GD-vs-SGD section comes from the user's model and data, and its prose only restates
the numbers of the study it is written from."""

from diffkit import builtin
from diffkit.cli import main
from diffkit.optim import make_data, study
from diffkit.report import prose
from diffkit.report.content import study_rows
from diffkit.report.study import StudySettings, report_study


def test_report_with_data_trains_the_reports_own_model():
    # what `diffkit report logistic-regression --data breast-cancer --lam 0.01` puts in its study section
    from diffkit.report.content import study_section
    res = report_study(builtin("logistic-regression"), StudySettings(data="breast-cancer", lam=0.01, seeds=(0, 1),
                                                                     epochs=30, timing=False))
    assert res.model == "logistic-regression" and res.heldout["test"] == 114 and res.d == 30
    sec = study_section(res, own_model=True)
    text = " ".join(getattr(b, "text", "") for b in sec.blocks)
    assert "built-in logistic-regression on breast-cancer" in text and "the report's own model" in text
    assert "Test accuracy (median over seeds)" in text and "Newton's method" in text
    assert f"{res.condition_number:.4g}" in text


def test_report_with_bad_data_leaves_no_file(capsys, tmp_path):
    out = tmp_path / "r.html"
    rc = main(["report", "linear-regression", "--data", str(tmp_path / "missing.csv"), "--target", "y",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("Error: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_prose_epoch_and_update_counts_are_those_of_the_runs():
    ds = make_data(n=300, d=3, seed=1)
    res = study(builtin("linear-regression", d=3), ds, epochs={"gd": 7, "sgd": 20, "minibatch": 20}, gtol=0.0,
                seeds=(0, 1), timing=False)
    text = prose.study(res, study_rows(res))
    gd, sgd = res.by_method()["gd"][0], res.by_method()["sgd"][0]
    assert "the same" not in text  # different budgets are never called the same
    assert f"GD ran {gd.final.epoch:.3g} epochs ({gd.final.iteration} updates)" in text
    assert f"SGD {sgd.final.epoch:.3g} epochs ({sgd.final.iteration} updates)" in text


def test_prose_claims_cheap_steps_win_early_only_when_they_do():
    ds = make_data(n=400, d=3, seed=2)
    m = builtin("linear-regression", d=3)
    res = study(m, ds, methods=("gd", "sgd"), epochs={"gd": 200, "sgd": 5}, seeds=(0,), timing=False)
    text = prose.study(res, study_rows(res))
    gd, sgd = res.runs
    one_pass = lambda r: [h.excess_loss for h in r.history if h.sample_gradients <= ds.n][-1]  # noqa: E731
    sgd_early = one_pass(sgd) < one_pass(gd)
    gd_late = gd.final.excess_loss < sgd.final.excess_loss
    assert ("Cheap noisy steps win early" in text) == (sgd_early and gd_late)
    # a study where SGD's steps are far too small: it is behind after one pass, and the prose says so
    slow = study(m, ds, methods=("gd", "sgd"), C={"gd": None, "sgd": 1e-4}, epochs={"gd": 200, "sgd": 5},
                 seeds=(0,), timing=False)
    text = prose.study(slow, study_rows(slow))
    assert "Cheap noisy steps win early" not in text and "GD is ahead" in text


def test_report_study_without_data_trains_the_reports_own_model_when_it_can():
    st = StudySettings(n=200, d=2, epochs=3, seeds=(0,), timing=False)
    neuron = report_study(builtin("ridge-sigmoid"), st)
    assert neuron.model == "ridge-sigmoid" and neuron.d == 1 and neuron.optimum_method == "best-seen"
    net = report_study(builtin("mlp", sizes=(2, 3, 1), activations=("tanh", "identity")), st)
    assert net.model == "mlp" and net.data.startswith("moons") and net.task == "classification"
    # a network the built-in data do not fit, and no model at all: the lecture's least squares
    wide = report_study(builtin("mlp", sizes=(3, 2, 2), activations=("tanh", "identity")), st)
    assert wide.model == "linear-regression" == report_study(None, st).model
