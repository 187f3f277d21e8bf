"""The `nianbao` command: one subcommand per job, each defined by the module that does the job.

Modules register their subcommands through `add_cli(subparsers)` and import heavy
libraries (torch, transformers) inside the functions they run, so `nianbao text`
starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "nianbao.ingest",
    "nianbao.rules",
    "nianbao.tables",
    "nianbao.studio",
    "nianbao.mlbackend",  # adds `studio serve` to the studio commands
    "nianbao.standoff",
    "nianbao.dataset",
    "nianbao.train",
    "nianbao.infer",
    "nianbao.evaluate",
    "nianbao.compare",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nianbao", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
