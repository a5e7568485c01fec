"""``mobilegan`` command line: a thin layer over the library API.

Each command group lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``func``; the parser's ``func(args)`` returns an exit code.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import sys

#: Command modules, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "mobilegan.cli.demo_cmd",
    "mobilegan.cli.segment_cmd",
    "mobilegan.cli.data_cmd",
    "mobilegan.cli.model_cmd",
    "mobilegan.cli.train_cmd",
    "mobilegan.cli.eval_cmd",
    "mobilegan.cli.export_cmd",
    "mobilegan.cli.serve_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mobilegan",
        description="Skin lesion segmentation in dermoscopy images with MobileGAN.",
        epilog=f"Errors print one line; {DEBUG_ENV}=1 prints the whole traceback instead.")
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:  # that command is not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mobilegan {version('mobilegan')}"
    except PackageNotFoundError:
        return "mobilegan (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `mobilegan model summary | head`: the reader has what it wanted. Python would
        # print a traceback, and another at exit when it flushes stdout again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    except USER_ERRORS as error:
        # Bad input is the user's to fix: say what and where, no stack trace (a bug that
        # raises one of these reads the same: MOBILEGAN_DEBUG shows where it came from).
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"mobilegan {args.command}: error: {describe_error(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno not in MACHINE_ERRNOS:
            raise
        print(f"mobilegan {args.command}: error: {describe_error(error)}", file=sys.stderr)
        return 2


#: Set to anything to see a user error's traceback (for bug reports).
DEBUG_ENV = "MOBILEGAN_DEBUG"
#: Errors that mean the input or a path is wrong, not the program: one line, exit 2.
#: (ModuleNotFoundError: an optional package this command needs, e.g. torch on an
#: onnxruntime-only install.)
USER_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
               PermissionError, ValueError, KeyError, ModuleNotFoundError)
#: OS errors about the machine, not the program: a read-only file system, a full disk.
MACHINE_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


#: What the ``torch`` extra installs: a command missing one of these needs that extra.
TORCH_EXTRA = frozenset({"torch", "safetensors", "matplotlib", "onnx", "onnxscript"})


def describe_error(error: BaseException) -> str:
    """One line: a KeyError's key without quotes; an OS error as "what: path" (Python's own
    "[Errno 20] Not a directory: 'x'" reads as a crash to most users); a package of the
    ``torch`` extra missing as what to install and what runs without it."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    package = (error.name or "").split(".")[0] if isinstance(error, ModuleNotFoundError) else ""
    if package in TORCH_EXTRA and importlib.util.find_spec(package) is None:
        # (installed but broken, e.g. torch._C missing, keeps Python's own message)
        without = (" Without PyTorch, segment and serve run the shipped int8 model: "
                   "--backend int8" if importlib.util.find_spec("torch") is None else "")
        return (f"this needs {package} (not installed), which the 'torch' extra brings: "
                f"pip install -e '.[torch]' in the mobilegan checkout (README, "
                f"Install).{without}")
    if isinstance(error, OSError) and error.strerror and error.filename is not None \
            and len(error.args) == 2:
        return f"{error.strerror.lower()}: {error.filename}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
