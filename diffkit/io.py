"""Safe file input and output: what every reader and writer of diffkit goes through.

Input (:func:`read_text`): only regular files are read, up to a size limit named in the error;
a FIFO, a device, a socket or a directory is refused at once (before anything could block), and
standard input is read with the same limit.

Output (:func:`check_output`, :func:`write_atomically`): every target is checked before any
folder is created; files are written to temporaries in the target folder and renamed into
place, so a failed, interrupted or killed run leaves each target either untouched or complete,
and folders it had to create are removed again when it fails.  Temporaries left by a killed run
are recognised by name and removed by the next run that writes the same target.

Text for terminals that cannot encode diffkit's symbols goes through :func:`encodable`, which
renders σ, λ, ∂ and friends in ASCII (``sigma``, ``lambda``, ``d``) instead of failing.

Examples
--------
>>> encodable("∂L/∂w = σ(z)·λ − 2", "ascii")
'dL/dw = sigma(z)*lambda - 2'
>>> encodable("L = (y − u)²/2 + 2λw²", "ascii")
'L = (y - u)^2/2 + 2*lambda*w^2'
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping

from .constraints import shorten
from .errors import BadInput, OutputError

#: Largest data file read (CSV): about 10⁶ cells, parsed in a few seconds.
DATA_LIMIT_BYTES = 32 * 2**20
#: Largest claims file read (one claim per line).
CLAIMS_LIMIT_BYTES = 2**20


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_text(path: str | os.PathLike, *, what: str = "file", limit: int = DATA_LIMIT_BYTES,
              encoding: str = "utf-8", allow_stdin: bool = False) -> str:
    """The text of the regular file ``path`` (``-`` is standard input when ``allow_stdin``).

    Raises BadInput, naming ``what`` and the path, for a missing file, anything that is not a
    regular file (FIFOs and devices are refused without being opened for a blocking read), a
    file over ``limit`` bytes, and text that is not valid ``encoding``.
    """
    shown = shorten(str(path), 80)
    if allow_stdin and str(path) == "-":
        data = sys.stdin.buffer.read(limit + 1) if hasattr(sys.stdin, "buffer") else \
            sys.stdin.read(limit + 1).encode(encoding, "surrogateescape")
        if len(data) > limit:
            raise BadInput(f"{what} on standard input is larger than the limit of {_mib(limit)}")
        return _decode(data, encoding, f"{what} on standard input")
    if "\0" in str(path):
        raise BadInput(f"{what} {shown} contains a NUL character")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadInput(f"{what} {shown} does not exist") from None
    except OSError as exc:
        raise BadInput(f"cannot read {what} {shown}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{what} {shown} is {_kind(st.st_mode)}; give a regular file")
    if st.st_size > limit:
        raise BadInput(f"{what} {shown} is {_mib(st.st_size)}, larger than the limit of {_mib(limit)}")
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, open must not hang
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise BadInput(f"cannot read {what} {shown}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInput(f"{what} {shown} is not a regular file; give a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise BadInput(f"cannot read {what} {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise BadInput(f"{what} {shown} grew past the limit of {_mib(limit)} while being read")
    return _decode(b"".join(chunks), encoding, f"{what} {shown}")


def _decode(data: bytes, encoding: str, label: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{label} is not {encoding.upper()} text (byte {exc.start + 1})") from None


# -- output -------------------------------------------------------------------------------------

def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder if folder.exists() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _existing_ancestor(p: Path) -> Path:
    q = p
    while not os.path.lexists(q) or not _stat_ok(q):
        if q.parent == q:
            break
        q = q.parent
    return q


def _stat_ok(q: Path) -> bool:
    try:
        os.stat(q)
        return True
    except OSError:
        return False


def check_output(paths: Iterable[str | os.PathLike], *, what: str = "output file") -> list[Path]:
    """Check that every path can be written, creating nothing.

    Refuses (BadInput, naming the path): a directory where the file should go, a file name too
    long for the file system, a parent that exists but is not a folder, and a folder that is not
    writable.  Missing folders are fine here; :func:`write_atomically` creates them.
    """
    out = []
    for path in paths:
        p = Path(path)
        shown = shorten(str(p), 80)
        if not p.name or p.name in (".", ".."):
            raise BadInput(f"{what} {shown} has no file name")
        if "\0" in str(p):
            raise BadInput(f"{what} {shown} contains a NUL character")
        limit = _name_max(_existing_ancestor(p.parent))
        for part in p.parts:  # before any stat: a too-long name makes stat itself fail
            if len(os.fsencode(part)) > limit:
                raise BadInput(f"{what} {shown}: the name {shorten(part, 30)} is longer than the file system "
                               f"allows ({limit} bytes)")
        try:
            if p.is_dir():
                raise BadInput(f"{what} {shown} is a directory; give a file name")
            anc = _existing_ancestor(p.parent if str(p.parent) else Path("."))
            if not anc.is_dir():
                raise BadInput(f"{what} {shown}: cannot create the directory {shorten(str(p.parent), 80)}, "
                               f"because {shorten(str(anc), 80)} is a file")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise BadInput(f"{what} {shown}: the folder {shorten(str(anc), 80)} is not writable; "
                               "choose another path")
            if p.exists() and not p.is_file():
                raise BadInput(f"{what} {shown} exists and is not a regular file")
        except OSError as exc:
            raise BadInput(f"{what} {shown}: {exc.strerror or exc}") from None
        out.append(p)
    return out


#: Temporaries are ``.<target name>.<pid>.<random>.tmp`` (the name cut so the whole stays legal).
_TEMP = re.compile(r"^\.(?P<stem>.*)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
_STEM_CHARS = 120


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def sweep_stale_temporaries(target: Path) -> int:
    """Remove temporaries of ``target`` left by killed runs (their process is gone); how many."""
    folder = target.parent if str(target.parent) else Path(".")
    stem = target.name[:_STEM_CHARS]
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        m = _TEMP.match(e.name)
        if m and m.group("stem") == stem and not _pid_alive(int(m.group("pid"))):
            try:
                os.unlink(e.path)
                removed += 1
            except OSError:
                pass
    return removed


def write_atomically(files: Mapping[str | os.PathLike, bytes], *, what: str = "output") -> None:
    """Write every file to a temporary in its folder, then rename each into place.

    Missing folders are created first and removed again if the write fails.  On any failure
    (including Ctrl-C) the temporaries are removed and each target keeps its old content; a
    SIGKILL can leave a temporary (never a truncated target), which the next write of the same
    target removes.  Failures raise :class:`~diffkit.errors.OutputError` with one line.
    """
    targets = {Path(k): v for k, v in files.items()}
    check_output(targets, what=what)
    created: list[Path] = []
    temps: dict[Path, str] = {}
    try:
        for target in targets:
            folder = target.parent if str(target.parent) else Path(".")
            missing = []
            q = folder
            while not q.exists():
                missing.append(q)
                q = q.parent
            for d in reversed(missing):
                os.mkdir(d)
                created.append(d)
            sweep_stale_temporaries(target)
        for target, data in targets.items():
            folder = target.parent if str(target.parent) else Path(".")
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name[:_STEM_CHARS]}.{os.getpid()}.",
                                       suffix=".tmp")
            temps[target] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        for target, tmp in temps.items():
            os.replace(tmp, target)
        created.clear()
    except OSError as exc:
        where = shorten(str(getattr(exc, "filename", None) or next(iter(targets))), 80)
        raise OutputError(f"cannot write the {what} ({where}): {exc.strerror or exc}") from None
    finally:
        for tmp in temps.values():
            if os.path.exists(tmp):
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        for d in reversed(created):  # only folders this call made, and only when it failed
            try:
                os.rmdir(d)
            except OSError:
                pass


# -- terminals that cannot encode diffkit's symbols --------------------------------------------

#: ASCII renderings of the symbols diffkit prints, used only where the terminal cannot encode them.
ASCII_FALLBACK = {
    "σ": "sigma", "λ": "lambda", "∂": "d", "∇": "grad ", "ε": "eps", "α": "alpha", "β": "beta",
    "γ": "gamma", "μ": "mu", "η": "eta", "θ": "theta", "δ": "delta", "Σ": "sum ", "π": "pi",
    "′": "'", "″": "''", "·": "*", "−": "-", "×": "x", "÷": "/", "→": "->", "←": "<-", "↦": "|->",
    "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "‖": "||", "√": "sqrt", "∞": "inf", "⊙": "(.)",
    "ᵀ": "^T", "⁻": "^-", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "⁵": "^5", "⁶": "^6",
    "⁷": "^7", "⁸": "^8", "⁹": "^9", "⁰": "^0", "½": "1/2", "…": "...", "—": "--", "–": "-",
    "─": "-", "━": "-", "│": "|", "┃": "|", "┏": "+", "┓": "+", "┗": "+", "┛": "+", "╇": "+",
    "┡": "+", "┩": "+", "╋": "+", "┼": "+", "├": "+", "┤": "+", "┬": "+", "┴": "+", "╭": "+",
    "╮": "+", "╰": "+", "╯": "+", "┌": "+", "┐": "+", "└": "+", "┘": "+", "═": "=", "║": "|",
    "•": "*", "✓": "ok", "✗": "x", "⁺": "^+", "₀": "0", "₁": "1", "₂": "2", "₃": "3", "ₖ": "k",
    "ᵢ": "i", "ⱼ": "j", "“": '"', "”": '"', "‘": "'", "’": "'",
}


def _fallback(exc: UnicodeError):
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    text = exc.object
    for i in range(exc.start, exc.end):
        ch = text[i]
        rep = ASCII_FALLBACK.get(ch)
        if rep is None:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            rep = base or "?"
        elif rep.isalpha() and len(rep) > 1:
            # a Greek letter written as a word: keep "λw" and "2λ" readable as products
            if i > 0 and (text[i - 1].isalnum() or text[i - 1] in ")²") and not out:
                rep = "*" + rep
            if i + 1 < len(text) and (text[i + 1].isalnum() and text[i + 1].isascii()):
                rep += "*"
        out.append(rep)
    return "".join(out), exc.end


codecs.register_error("diffkit-ascii", _fallback)


def encodable(text: str, encoding: str | None) -> str:
    """``text`` with what ``encoding`` cannot encode replaced by ASCII renderings (σ → sigma)."""
    enc = encoding or "utf-8"
    try:
        text.encode(enc)
        return text
    except UnicodeEncodeError:
        return text.encode(enc, "diffkit-ascii").decode(enc)
    except LookupError:
        return text.encode("ascii", "diffkit-ascii").decode("ascii")


def can_encode(encoding: str | None, sample: str = "σλ∂·−") -> bool:
    try:
        sample.encode(encoding or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def is_output_failure(exc: BaseException) -> bool:
    """Whether an OSError means the output cannot be written (full disk, closed or broken stream)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EIO, errno.EBADF, errno.EPIPE,
                                                       errno.EDQUOT if hasattr(errno, "EDQUOT") else errno.ENOSPC,
                                                       errno.EFBIG, errno.EINVAL)
