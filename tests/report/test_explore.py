"""``diffkit explore``: one self-contained offline page, checked in a real headless Chromium.

Stepping changes the highlighted node and the value shown; clicking a node shows the lecture's sum
over children with the right numbers (against the engine's adjoints and central differences);
the study sliders redraw the curve; and no request leaves the page."""

import json
import re

import pytest

from browser import chromium, needs_chromium, requests_made

from diffkit.cli import main


@pytest.fixture(scope="module")
def neuron_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore") / "neuron.html"
    assert main(["explore", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def study_page(tmp_path_factory, monkeypatch_module):
    import diffkit.cli.explore as ex

    monkeypatch_module.setattr(ex, "C_FACTORS", (0.5, 1.0, 2.0))
    monkeypatch_module.setattr(ex, "BATCHES", (1, 16))
    orig = ex.study_grid
    monkeypatch_module.setattr(ex, "study_grid", lambda: orig(n=200, d=3, epochs=2, seeds=(0, 1)))
    out = tmp_path_factory.mktemp("explore") / "study.html"
    assert main(["explore", "--study", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _data(page) -> dict:
    html = page.read_text(encoding="utf-8")
    blob = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S).group(1)
    return json.loads(blob.replace("<\\/", "</"))


def test_page_is_one_small_self_contained_file(neuron_page):
    html = neuron_page.read_text(encoding="utf-8")
    assert neuron_page.stat().st_size <= 1_000_000
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"<script\b[^>]*\bsrc=", html)
    assert not re.search(r"""(src|href)=["'](?!#)""", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "fetch(" not in html and "XMLHttpRequest" not in html and "WebSocket" not in html


def test_page_data_has_the_engine_numbers(neuron_page):
    from diffkit import builtin
    from diffkit.analysis.compare import compare

    g = _data(neuron_page)["graph"]
    c = compare(builtin("ridge-sigmoid"), points=1)
    nodes = {n["id"]: n for n in g["nodes"]}
    for name, v in c.graph.adjoints.items():
        assert nodes[name]["adjoint"] == pytest.approx(float(v), rel=1e-14)
    # the lecture's sum over children reproduces each adjoint (local derivatives from the engine)
    for n in g["nodes"]:
        if n["needs_grad"] and n["kind"] != "output":
            total = sum(t["adjoint"] * t["local_value"] for t in n["terms"])
            assert total == pytest.approx(n["adjoint"], rel=1e-12, abs=1e-15), n["id"]
    assert g["forward"][-1] == "L" and g["backward"][0] == "L"
    assert nodes["w"]["symbolic"]["value"] == pytest.approx(c.agreement.gradients["symbolic"]["w"], rel=1e-14)


def test_local_derivatives_against_central_differences(neuron_page):
    """∂c/∂v of every edge against a central difference of the child's primitive (an independent oracle)."""
    import numpy as np

    ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "pow": lambda a, b: a ** b,
           "sigmoid": lambda a: 1 / (1 + np.exp(-a))}
    g = _data(neuron_page)["graph"]
    nodes = {n["id"]: n for n in g["nodes"]}
    checked = 0
    for n in g["nodes"]:
        for t in n["terms"]:
            child = nodes[t["child"]]
            op = child["call"].split("(")[0]
            args = [nodes[p]["value"] for p in child["parents"]]
            i = child["parents"].index(n["id"])
            h = 1e-6
            up, dn = list(args), list(args)
            up[i] += h
            dn[i] -= h
            fd = (ops[op](*up) - ops[op](*dn)) / (2 * h)
            assert t["local_value"] == pytest.approx(fd, rel=1e-7, abs=1e-9), (n["id"], t["child"])
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("bad,needle", [
    (["explore", "mlp", "--sizes", "4,8,1", "--out", "OUT"], "explore draws at most"),
    (["explore", "--out", "DIR"], "is a directory"),
    (["explore", "--out", "x.txt"], "must end in .html"),
])
def test_bad_input_is_one_error_line_and_no_file(bad, needle, tmp_path, capsys):
    (tmp_path / "d.html").mkdir()
    args = [str(tmp_path / "new" / "p.html") if a == "OUT" else str(tmp_path / "d.html") if a == "DIR"
            else str(tmp_path / a) if a == "x.txt" else a for a in bad]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and needle in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.html"]


def test_explore_json_validates(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")  # noqa: F841
    from diffkit.schemas import validate

    assert main(["explore", "--out", str(tmp_path / "p.html"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    validate("explore", data)
    assert data["nodes"] == 16 and data["study"] is False


@needs_chromium
def test_stepping_and_clicking_in_chromium(neuron_page):
    from selenium.webdriver.common.by import By

    g = _data(neuron_page)["graph"]
    nodes = {n["id"]: n for n in g["nodes"]}
    with chromium(1280) as d:
        d.get(neuron_page.resolve().as_uri())
        status = d.find_element(By.ID, "status")
        assert status.get_attribute("data-phase") == "ready"
        assert d.find_elements(By.CSS_SELECTOR, "g.node.current") == []
        seen = []
        for k in range(len(g["forward"]) + 2):
            d.find_element(By.ID, "step").click()
            cur = d.find_elements(By.CSS_SELECTOR, "g.node.current")
            assert len(cur) == 1
            seen.append(cur[0].get_attribute("data-id"))
        assert seen[:len(g["forward"])] == g["forward"]
        assert seen[len(g["forward"]):] == g["backward"][:2]
        assert status.get_attribute("data-phase") == "backward"
        # the value shown in the box of the node just computed by BACKWARD
        last = seen[-1]
        box = d.find_element(By.CSS_SELECTOR, f'g.node[data-id="{last}"] text.adj').text
        assert box.startswith("∂L/∂v = ") and box != "∂L/∂v = ?"
        # step back: the highlight moves back one node
        d.find_element(By.ID, "back").click()
        assert d.find_element(By.CSS_SELECTOR, "g.node.current").get_attribute("data-id") == seen[-2]
        # clicking w shows the lecture's sum over its children with the right total
        d.find_element(By.CSS_SELECTOR, 'g.node[data-id="w"]').click()
        s = d.find_element(By.ID, "sum")
        assert "∂L/∂v1·∂v1/∂w + ∂L/∂r·∂r/∂w" in s.text
        assert float(s.get_attribute("data-total")) == pytest.approx(nodes["w"]["adjoint"], rel=1e-12)
        assert "−0.0848833·1.7 + 0.1·1" in s.text
        assert "symbolic" in d.find_element(By.ID, "symbolic").text
        # nothing left the page
        assert set(requests_made(d)) <= {neuron_page.resolve().as_uri()}
        assert [e for e in d.get_log("browser") if e["level"] == "SEVERE"] == []


@needs_chromium
def test_study_sliders_redraw_the_curves(study_page):
    from selenium.webdriver.common.by import By

    s = _data(study_page)["study"]
    assert len(s["Cs"]) == 3 and s["batches"] == [1, 16]
    with chromium(1280) as d:
        d.get(study_page.resolve().as_uri())
        curve = d.find_element(By.ID, "curve")
        before = curve.get_attribute("points")
        assert before and curve.get_attribute("data-key") == "1,0"
        d.execute_script("const b = document.getElementById('batch'); b.value = 1;"
                         "b.dispatchEvent(new Event('input'));")
        assert curve.get_attribute("data-key") == "1,1"
        assert curve.get_attribute("points") != before
        assert d.find_element(By.ID, "batch-value").text == "16"
        assert set(requests_made(d)) <= {study_page.resolve().as_uri()}
