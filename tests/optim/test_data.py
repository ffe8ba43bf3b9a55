import numpy as np
import pytest

from diffkit import builtin
from diffkit.errors import BadInput
from diffkit.optim import Dataset, bind, load_csv, make_data


def test_synthetic_linear_data_follow_the_generating_model():
    ds = make_data("linear-regression", n=4000, d=3, noise=0.0, seed=1)
    assert np.allclose(ds.X @ ds.truth, ds.y)
    again = make_data("linear-regression", n=4000, d=3, noise=0.0, seed=1)
    assert np.array_equal(ds.X, again.X) and np.array_equal(ds.y, again.y)
    other = make_data("linear-regression", n=4000, d=3, noise=0.0, seed=2)
    assert not np.array_equal(ds.X, other.X)


def test_condition_number_of_features():
    ds = make_data(n=20000, d=4, seed=0, condition=100.0)
    ev = np.linalg.eigvalsh(ds.X.T @ ds.X / ds.n)
    assert 70 < ev[-1] / ev[0] < 140


def test_logistic_labels_are_binary_and_informative():
    ds = make_data("logistic-regression", n=5000, d=2, seed=0)
    assert set(np.unique(ds.y)) == {0.0, 1.0}
    z = ds.X @ ds.truth[:-1] + ds.truth[-1]
    assert ds.y[z > 1].mean() > 0.7 and ds.y[z < -1].mean() < 0.3


def test_dataset_is_read_only():
    ds = make_data(n=5, d=2)
    with pytest.raises(ValueError):
        ds.X[0, 0] = 1.0


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_round_trip(tmp_path):
    p = write(tmp_path, "a,y,b\n1,2,3\n4,5,6\n\n7,8,9\n")
    ds = load_csv(p, target="y")
    assert ds.features == ("a", "b")
    assert np.array_equal(ds.X, [[1, 3], [4, 6], [7, 9]]) and np.array_equal(ds.y, [2, 5, 8])


@pytest.mark.parametrize("text, needles", [
    ("a,b,y\n1,2,3\n4,nan,6\n", ["row 3", "'b'", "nan"]),
    ("a,b,y\n1,2,3\n4,5,NaN\n", ["row 3", "'y'"]),
    ("a,b,y\n1,2,3\n4,x7,6\n", ["row 3", "'b'", "'x7'", "not a number"]),
    ("a,b,y\n1,,3\n", ["row 2", "'b'", "empty cell"]),
    ("a,b,y\n1,2,3\n4,5\n", ["row 3", "column 3", "'y' is missing"]),
    ("a,b,y\n1,2,3,4\n", ["row 2", "column 4", "4"]),
    ("a,b,y\n1,2,inf\n", ["row 2", "'y'", "finite"]),
    ("a,b,c\n1,2,3\n", ["no target column 'y'", "a, b, c"]),
    ("", ["empty"]),
    ("\n\n", ["empty"]),
    ("a,b,y\n", ["no data rows"]),
    ("a,a,y\n1,2,3\n", ["'a' appears twice"]),
])
def test_csv_errors_name_row_and_column(tmp_path, text, needles):
    with pytest.raises(BadInput) as exc:
        load_csv(write(tmp_path, text), target="y")
    msg = str(exc.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_missing_file_is_badinput(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load_csv(tmp_path / "nope.csv", target="y")


def test_bind_by_name_and_by_position():
    model = builtin("linear-regression", d=2)
    ds = make_data(n=6, d=2, seed=3)
    swapped = Dataset(ds.X[:, ::-1], ds.y, ("x2", "x1"))
    assert np.array_equal(bind(model, swapped).X, ds.X)
    renamed = Dataset(ds.X, ds.y, ("height", "weight"), target="mass")
    assert np.array_equal(bind(model, renamed).X, ds.X)  # positional
    with pytest.raises(BadInput, match="expects 2 feature columns"):
        bind(model, make_data(n=6, d=3))
