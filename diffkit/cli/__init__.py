"""The ``diffkit`` command line.  ``main`` is the console-script entry point.

``main`` is where the command line meets the operating system, and behaves like a good Unix
tool there:

* bad input is one line ``Error: ...`` and exit 2; a run-time failure one line and exit 1;
  never a traceback, never a raw NumPy warning;
* a closed pipe (``diffkit compare | head -3``) ends quietly with exit 141, as a tool killed by
  SIGPIPE does; a full disk (``> /dev/full``) or a closed standard output is one line, exit 1;
* a terminal whose encoding cannot show σ, λ, ∂ gets ASCII renderings (sigma, lambda, d);
* Ctrl-C (or SIGTERM) is one line and exit 130 (143), and leaves no partial file behind.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import warnings

import typer

from ..errors import DiffkitError, OutputError
from .app import app, stderr

# Each module registers its commands on ``app``.
from . import analyze, derive, explore, report, train  # noqa: E402,F401
from . import hessian, higher, modes  # noqa: E402,F401  (diffkit higher, hessian, breakeven, jacobian)

__all__ = ["app", "main"]

#: Longest ``Error:`` line printed; longer messages are cut (a message never echoes 100 KB).
MAX_ERROR_CHARS = 600
#: Exit status of a run stopped by a closed pipe (128 + SIGPIPE, what the shell reports for
#: ``yes | head``).
EXIT_PIPE = 141


class _Stream(io.TextIOBase):
    """A text stream in front of stdout/stderr: renders unencodable symbols in ASCII and turns a
    failed write into :class:`OutputError` (or ``BrokenPipeError`` for a closed pipe).

    It has no ``buffer`` attribute on purpose: click then writes through it instead of
    re-wrapping the raw bytes as UTF-8 behind our back.
    """

    def __init__(self, stream, name: str):
        super().__init__()
        self._s, self._name = stream, name
        self._ascii = not _can_encode(getattr(stream, "encoding", None))

    @property
    def encoding(self):
        return getattr(self._s, "encoding", None) or "utf-8"

    @property
    def errors(self):
        return getattr(self._s, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return self._s.isatty()
        except (OSError, ValueError, AttributeError):
            return False

    def fileno(self) -> int:
        return self._s.fileno()

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except BrokenPipeError:
            raise _PipeClosed() from None
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            why = getattr(exc, "strerror", None) or str(exc)
            raise OutputError(f"cannot write to standard {self._name}: {why}") from None

    def write(self, text: str) -> int:
        if self._ascii:
            from ..io import encodable

            text = encodable(text, self.encoding)
        self._guard(self._s.write, text)
        return len(text)

    def flush(self) -> None:
        self._guard(self._s.flush)


def _can_encode(encoding) -> bool:
    from ..io import can_encode

    return can_encode(encoding)


def _stdout_usable() -> bool:
    out = sys.stdout
    if out is None:
        return False
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return True  # an in-memory stream (tests, notebooks)
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _park_stdout() -> None:
    """After a broken pipe or a full disk: point fd 1 at /dev/null so the interpreter's final
    flush cannot print "Exception ignored ..." and change the exit status."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def _one_line(msg: str) -> str:
    line = " ".join(str(msg).split())
    if len(line) > MAX_ERROR_CHARS:
        line = line[:MAX_ERROR_CHARS] + f"… (message cut at {MAX_ERROR_CHARS} of {len(line)} characters)"
    return line


class _PipeClosed(BaseException):
    """The reader of standard output went away.  A BaseException, so that neither typer nor click
    (which turn an EPIPE OSError into ``sys.exit(1)``) can intercept it on its way to ``main``."""


class _Interrupted(BaseException):
    """Ctrl-C, raised by our SIGINT handler instead of KeyboardInterrupt, which typer would turn
    into a silent exit 130.  ``finally`` blocks still run, so temporaries are removed."""

    status, message = 130, "Error: interrupted"


class _Terminated(_Interrupted):
    """SIGTERM, handled like Ctrl-C."""

    status, message = 143, "Error: terminated"


def _on_signal(signum, frame):
    raise (_Terminated if signum == signal.SIGTERM else _Interrupted)()


class _RichPatch:
    """While a command runs: rich's broken-pipe handler raises BrokenPipeError (not SystemExit(1)),
    and on a terminal that cannot encode σ, λ, ∂ rich gets the ASCII text *before* it measures
    column widths, so tables stay aligned.  Restored afterwards."""

    def __init__(self, ascii_only: bool):
        self.ascii_only = ascii_only
        self.saved: dict = {}

    def __enter__(self):
        try:
            from rich.console import Console
        except ImportError:  # pragma: no cover
            return self
        self.saved = {k: Console.__dict__[k] for k in ("on_broken_pipe", "render_str")}

        def on_broken_pipe(console) -> None:
            console.quiet = True
            raise _PipeClosed()

        Console.on_broken_pipe = on_broken_pipe
        if self.ascii_only:
            from ..io import encodable

            render_str = self.saved["render_str"]

            def ascii_render_str(console, text, *a, **kw):
                return render_str(console, encodable(text, console.encoding), *a, **kw)

            Console.render_str = ascii_render_str
        return self

    def __exit__(self, *exc):
        if self.saved:
            from rich.console import Console

            for k, v in self.saved.items():
                setattr(Console, k, v)
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI: ``Error: ...`` on one line and exit 2 (bad input) or 1 (failure); no traceback."""
    args = sys.argv[1:] if argv is None else argv
    if not _stdout_usable():
        stderr("Error: standard output is closed; diffkit writes its results there (redirect it to a file)")
        return 1
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stream(sys.stdout, "output"), _Stream(sys.stderr, "error")
    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, _on_signal)
    try:
        with warnings.catch_warnings():
            # NumPy's RuntimeWarnings (overflow, invalid value) would print internal paths; the
            # library reports what matters as findings or as DomainError.
            warnings.simplefilter("ignore", RuntimeWarning)
            with _RichPatch(ascii_only=sys.stdout._ascii):
                return _run(args)
    finally:
        try:
            sys.stdout.flush()
        except (OutputError, _PipeClosed, OSError, ValueError):
            _park_stdout()
        sys.stdout, sys.stderr = saved
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


def _run(args: list[str]) -> int:
    try:
        try:
            rv = app(args=args, prog_name="diffkit", standalone_mode=False)
            sys.stdout.flush()
        except typer.Exit as exc:
            if exc.exit_code == 130:  # typer's own conversion of a KeyboardInterrupt
                raise _Interrupted() from None
            sys.stdout.flush()
            return exc.exit_code
    except (_PipeClosed, BrokenPipeError):
        _park_stdout()
        return EXIT_PIPE
    except _Interrupted as exc:
        stderr(exc.message)
        return exc.status
    except OutputError as exc:
        _park_stdout()
        stderr(f"Error: {_one_line(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        stderr("Error: interrupted")
        return 130
    except typer.Abort:
        stderr("Error: aborted")
        return 1
    except DiffkitError as exc:
        stderr(f"Error: {_one_line(str(exc))}")
        return exc.exit_code
    except RecursionError:
        stderr("Error: the input is nested too deeply to process")
        return 2
    except MemoryError:
        stderr("Error: out of memory; try smaller sizes")
        return 1
    except OSError as exc:  # the file system said no (permissions, a name too long, a full disk)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        stderr(f"Error: {_one_line((exc.strerror or str(exc)) + where)}")
        return 1
    except Exception as exc:
        # Usage errors of the (vendored or external) click layer: duck-typed, so any typer works.
        if type(exc).__name__ == "NoArgsIsHelpError" and getattr(exc, "ctx", None) is not None:
            return 0  # `diffkit` alone: typer has printed the help
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            stderr(f"Error: {_one_line(exc.format_message())}")
            return 2 if exc.exit_code == 2 else exc.exit_code
        # a bug of ours: still one line, exit 1
        stderr(f"Error: internal error ({type(exc).__name__}: {_one_line(str(exc))}); please report it")
        return 1
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
