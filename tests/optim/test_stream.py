"""Streaming: SGD and minibatch SGD over a .npy file (and a CSV read in chunks) larger than the
address space the process may use, with the same iterates as the in-memory run."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from diffkit import builtin
from diffkit.errors import BadInput
from diffkit.optim import Dataset, study
from diffkit.optim.stream import open_npy, stream_csv

N, D = 120_000, 99  # 96 MB of float64 rows

CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from diffkit import builtin
    from diffkit.optim import study
    from diffkit.optim import make_data
    from diffkit.optim.stream import open_npy
    # warm up first (lazy imports, BLAS buffers), so the limit below is headroom for the data alone
    small = make_data(n=500, d=99, seed=0)
    study(builtin("linear-regression", d=99), small, methods=("sgd", "minibatch"), epochs=1, C=0.002, timing=False)
    vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:")) * 1024
    limit = vm + 80 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    fd = open_npy(sys.argv[1], target=-1)
    res = study(builtin("linear-regression", d=fd.d), fd, methods=("sgd", "minibatch"), epochs=1, seeds=(0,),
                C={"sgd": 0.002, "minibatch": 0.05}, timing=False, history_points=3, gtol=0.0)
    try:
        np.load(sys.argv[1])
        loaded = True
    except MemoryError:
        loaded = False
    print(json.dumps({"loaded_whole": loaded, "limit_mb": limit / 2**20,
                      "runs": [[r.method, r.status, list(r.params), r.final.loss] for r in res.runs]}))
""")


@pytest.fixture(scope="module")
def big_npy(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "big.npy"
    rng = np.random.default_rng(5)
    w = rng.standard_normal(D)
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(N, D + 1))
    for lo in range(0, N, 50_000):
        X = rng.standard_normal((min(50_000, N - lo), D))
        arr[lo:lo + len(X), :D] = X
        arr[lo:lo + len(X), D] = X @ w + 0.1 * rng.standard_normal(len(X))
    arr.flush()
    del arr
    return path


def test_sgd_streams_a_file_larger_than_the_address_space_limit(big_npy):
    proc = subprocess.run([sys.executable, "-c", CHILD, str(big_npy)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    assert got["loaded_whole"] is False  # the data really do not fit under the limit
    a = np.load(big_npy)
    ds = Dataset(a[:, :D], a[:, D], tuple(f"x{j + 1}" for j in range(D)))
    del a
    ref = study(builtin("linear-regression", d=D), ds, methods=("sgd", "minibatch"), epochs=1, seeds=(0,),
                C={"sgd": 0.002, "minibatch": 0.05}, timing=False, history_points=3, gtol=0.0)
    for (method, status, params, loss), r in zip(got["runs"], ref.runs):
        assert method == r.method and status == r.status == "max_epochs"
        assert np.max(np.abs(np.array(params) - r.params)) <= 1e-12 * np.max(np.abs(r.params))
        assert loss == pytest.approx(r.final.loss, rel=1e-12)


def test_csv_streamed_in_chunks_matches_the_npy(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(3000)
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    (tmp_path / "d.csv").write_text("a,b,target,c,d\n" + "\n".join(
        f"{float(r[0])!r},{float(r[1])!r},{float(t)!r},{float(r[2])!r},{float(r[3])!r}" for r, t in zip(X, y)))
    fc = stream_csv(tmp_path / "d.csv", target="target", chunk_rows=500)
    fn = open_npy(tmp_path / "d.npy", target=-1)
    m = builtin("linear-regression", d=4)
    kw = dict(methods=("gd", "sgd", "minibatch"), epochs={"gd": 50, "sgd": 2, "minibatch": 2}, seeds=(0, 1), timing=False)
    a, b = study(m, fc, **kw), study(m, fn, **kw)
    assert [r.params for r in a.runs] == [r.params for r in b.runs]
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.allclose(a.optimum_params, w, rtol=1e-10)


def test_streamed_data_refuse_what_they_cannot_do(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((10, 3)))
    fd = open_npy(tmp_path / "d.npy", target=-1)
    with pytest.raises(BadInput, match="not split"):
        study(builtin("linear-regression", d=2), fd, methods=("gd",), test=Dataset(np.ones((2, 2)), np.ones(2), ("x1", "x2")))
    with pytest.raises(BadInput, match="linear-regression or logistic-regression"):
        study(builtin("ridge-sigmoid"), open_npy(np.save(tmp_path / "e.npy", np.ones((5, 2))) or tmp_path / "e.npy",
                                                  target=-1), methods=("gd",), C=0.1)
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(BadInput, match="NaN"):
        open_npy(tmp_path / "nan.npy", target=-1)
