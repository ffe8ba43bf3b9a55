"""Safe input files and atomic output (diffkit.io)."""

from __future__ import annotations

import os
import threading

import pytest

from diffkit.cli import main
from diffkit.errors import BadInput, OutputError
from diffkit.io import check_output, encodable, read_text, sweep_stale_temporaries, write_atomically


def test_a_regular_file_is_read(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("d_b = d_z\n")
    assert read_text(p, what="claims file") == "d_b = d_z\n"


def test_a_fifo_without_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = threading.Event()
    result = {}

    def go():
        try:
            read_text(fifo, what="data file")
        except BadInput as exc:
            result["msg"] = str(exc)
        done.set()

    threading.Thread(target=go, daemon=True).start()
    assert done.wait(5), "reading a FIFO hung"
    assert "is a FIFO (named pipe); give a regular file" in result["msg"]


@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/null"])
def test_devices_are_refused(dev):
    if not os.path.exists(dev):
        pytest.skip(f"no {dev}")
    with pytest.raises(BadInput, match="is a character device"):
        read_text(dev, what="data file")


def test_the_size_limit_is_named(tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(b"x" * 2048)
    with pytest.raises(BadInput, match="larger than the limit of 1 KiB"):
        read_text(p, what="data file", limit=1024)


def test_a_directory_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(BadInput, match="is a directory"):
        read_text(tmp_path, what="data file")
    with pytest.raises(BadInput, match="does not exist"):
        read_text(tmp_path / "nope", what="data file")


def test_not_utf8_is_refused(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("d_b = é\n".encode("latin-1"))
    with pytest.raises(BadInput, match="is not UTF-8 text"):
        read_text(p, what="claims file")


@pytest.mark.parametrize("argv", [["train", "--data", "{fifo}", "--target", "y"],
                                  ["check", "--claims", "{fifo}"]])
def test_the_cli_readers_refuse_fifos(argv, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main([a.format(fifo=fifo) for a in argv]) == 2
    assert "FIFO" in capsys.readouterr().err


def test_check_output_creates_nothing(tmp_path):
    target = tmp_path / "a" / "b" / "r.html"
    check_output([target])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BadInput, match="longer than the file system allows"):
        check_output([tmp_path / ("x" * 300 + ".html")])
    (tmp_path / "f").write_text("")
    with pytest.raises(BadInput, match="is a file"):
        check_output([tmp_path / "f" / "r.html"])


def test_a_failed_write_keeps_the_old_file_and_removes_the_folders_it_made(tmp_path, monkeypatch):
    old = tmp_path / "r.html"
    old.write_text("old")
    new_dir = tmp_path / "new" / "deeper" / "r.html"

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    for target in (old, new_dir):
        with pytest.raises(OutputError, match="No space left on device"):
            write_atomically({target: b"new"})
    assert old.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_temporaries_of_dead_processes_are_swept(tmp_path):
    target = tmp_path / "r.html"
    stale = tmp_path / ".r.html.999999999.abcd1234.tmp"   # no such pid
    live = tmp_path / f".r.html.{os.getpid()}.abcd1234.tmp"
    stale.write_text("x")
    live.write_text("x")
    assert sweep_stale_temporaries(target) == 1
    assert not stale.exists() and live.exists()
    write_atomically({target: b"ok"})
    assert target.read_bytes() == b"ok"


def test_ascii_renderings():
    assert encodable("∂L/∂w = (σ(z) − y)·σ′(z) + 2λw", "ascii") == \
        "dL/dw = (sigma(z) - y)*sigma'(z) + 2*lambda*w"
    assert encodable("∂L/∂w", "utf-8") == "∂L/∂w"
