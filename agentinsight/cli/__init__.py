"""The agentinsight command line: demo, simulate, stack, report, schedule and alerts.

All argparse code lives in this package: each sub-command is a private module here with
``configure_parser(parser)`` and ``run(args) -> int`` that call the library's public functions.
Only the chosen command's module is imported, so ``agentinsight --help`` stays fast and an optional
dependency is needed only by the command that uses it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

#: command name -> (module that implements it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("agentinsight.cli._demo", "simulate a week of an agent fleet and write the reports"),
    "simulate": ("agentinsight.cli._simulate",
                 "write simulated fleet history (metrics, spans, truth)"),
    "stack": ("agentinsight.cli._stack",
              "start, inspect and stop local Prometheus, Alertmanager, Jaeger"),
    "report": ("agentinsight.cli._report", "run a report notebook into HTML"),
    "schedule": ("agentinsight.cli._schedule", "run reports when their schedule says they are due"),
    "alerts": ("agentinsight.cli._alerts", "push findings to Alertmanager, write rule files"),
}


def _parser() -> argparse.ArgumentParser:
    from agentinsight import __version__

    parser = argparse.ArgumentParser(prog="agentinsight", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"agentinsight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        parser = _parser()
        if not args:
            parser.print_help()
            return 2
        parser.parse_args(args)  # prints usage / version, or the unknown-command error
        return 2
    name = args[0]
    module_name, help_text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(
            f"agentinsight {name}: needs an optional dependency that is not installed ({exc}); "
            "install it with: pip install 'agentinsight[all]'",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog=f"agentinsight {name}", description=help_text)
    module.configure_parser(parser)
    from agentinsight.exceptions import AgentInsightError

    parsed = parser.parse_args(args[1:])
    try:
        return int(module.run(parsed) or 0)
    except AgentInsightError as exc:
        print(f"agentinsight {name}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
