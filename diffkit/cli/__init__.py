"""The ``diffkit`` command line.  ``main`` is the console-script entry point."""

from __future__ import annotations

import sys

import typer

from ..errors import DiffkitError
from .app import app, stderr

# Each module registers its commands on ``app``.
from . import analyze, derive, explore, report, train  # noqa: E402,F401
from . import hessian, higher, modes  # noqa: E402,F401  (diffkit higher, hessian, breakeven, jacobian)

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI: ``Error: ...`` on one line and exit 2 (bad input) or 1 (failure); no traceback."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rv = app(args=args, prog_name="diffkit", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        stderr("Error: aborted")
        return 1
    except DiffkitError as exc:
        stderr(f"Error: {_one_line(str(exc))}")
        return exc.exit_code
    except RecursionError:
        stderr("Error: the input is nested too deeply to process")
        return 2
    except KeyboardInterrupt:
        stderr("Error: interrupted")
        return 130
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


def _one_line(msg: str) -> str:
    return " ".join(msg.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
