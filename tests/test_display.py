"""Rich display (diffkit.display): each result object renders itself in the lecture's notation."""

import diffkit as dk


def test_every_result_object_has_html_and_latex():
    m = dk.builtin("ridge-sigmoid")
    c = dk.compare(m, points=2)
    for obj in (m, dk.derive(m), dk.derive(m, form="cse"), c, c.listing):
        html, latex = obj._repr_html_(), obj._repr_latex_()
        assert html.startswith("<style>") and "<math" in html
        assert latex.startswith(r"$\displaystyle") and latex.endswith("$")
        assert "lam" not in latex.replace(r"\lambda", "")  # λ, as the lecture writes it
    assert r"t_{0} &= w x + b" in dk.derive(m, form="cse")._repr_latex_()


def test_matrix_form_and_a_kink():
    d = dk.derive(dk.builtin("linear-regression"), form="matrix")
    assert r"\nabla_{w} L" in d._repr_latex_()
    c = dk.compare(dk.model_from_expr("relu(w*x)", wrt="w", at={"w": 0.0, "x": 1.0}), points=1)
    html = c._repr_html_()
    assert "kink" in html and "not applicable here: complex step" in html


def test_graph_svg_and_a_graph_too_large():
    import diffkit.engine as de

    g = dk.compare(dk.builtin("ridge-sigmoid"), points=1).graph
    assert g._repr_svg_().startswith("<svg")
    big = de.trace(lambda x: de.sum(x * 2.0 + 1.0), *[[float(i) for i in range(3)]])
    assert big._repr_svg_() is None or big._repr_svg_().startswith("<svg")


def test_study_result_renders_and_plots():
    from diffkit.optim import make_data

    res = dk.study(dk.builtin("linear-regression", d=2), make_data("linear-regression", n=100, d=2, seed=0),
                   epochs=2, seeds=(0,), timing=False)
    assert "GD vs SGD" in res._repr_html_() and r"F^* =" in res._repr_latex_()
    fig = res.plot()
    assert fig.axes and fig.axes[0].get_xscale() == "log"
