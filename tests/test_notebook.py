"""The example notebook runs (nbclient, a real IPython kernel) and its cells show diffkit's results
rendered in the lecture's notation: LaTeX with λ and σ′, HTML tables, the graph as SVG, a plot."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "diffkit-tour.ipynb"


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def _data(cell) -> dict:
    out = {}
    for o in cell.outputs:
        assert o.output_type != "error", "".join(o.get("traceback", []))
        out.update(o.get("data", {}))
    return out


def test_notebook_runs_without_errors(executed):
    assert len(executed) == 7
    for cell in executed:
        _data(cell)


def test_model_and_derivation_in_lecture_notation(executed):
    model, derivation = _data(executed[0]), _data(executed[1])
    assert model["text/latex"] == r"$\displaystyle L = \frac{\left(y - \sigma\left(w x + b\right)\right)^{2}}{2} + \lambda w^{2}$"
    assert "lam" not in model["text/latex"].replace(r"\lambda", "") and "<math" in model["text/html"]
    assert "λ" in model["text/html"]
    lat = derivation["text/latex"]
    assert r"\frac{\partial L}{\partial w} &= \left(\sigma\left(w x + b\right) - y\right) \sigma'\left(w x + b\right) x + 2 \lambda w" in lat


def test_comparison_and_listing(executed):
    cmp_, listing = _data(executed[2]), _data(executed[3])
    assert "Agreement: <b>OK</b>" in cmp_["text/html"] and "complex step" in cmp_["text/html"]
    assert "−0.0443016767576" in cmp_["text/html"]  # ∂L/∂w, 12 digits
    assert r"\partial_{w} L &= \partial_{z} L \cdot x + \partial_{r} L \cdot 2 w" in listing["text/latex"]
    assert "BACKWARD" in listing["text/html"]


def test_graph_and_study(executed):
    graph, study, plot = _data(executed[4]), _data(executed[5]), _data(executed[6])
    assert graph["image/svg+xml"].lstrip().startswith("<svg")
    assert "GD vs SGD" in study["text/html"] and "minibatch(b=32)" in study["text/html"]
    assert "image/svg+xml" in plot or "image/png" in plot
