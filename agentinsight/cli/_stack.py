"""``agentinsight stack``: start, inspect and stop local Prometheus, Alertmanager and Jaeger."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from agentinsight.exceptions import StackError
from agentinsight.stack import (
    DEFAULT_PORTS,
    Stack,
    find_program,
    forget_stack,
    record_stack,
    recorded_stack,
    stack_dir,
    stop_recorded_stack,
)

_DIR_HELP = ("folder of the stack's state file and log (default $AGENTINSIGHT_STACK_DIR or "
             "~/.cache/agentinsight/stack)")
_NO_SCRAPE = ("warning: Prometheus scrapes nothing: no --scrape target was given. Start the "
              "stack with --scrape HOST:PORT where an agent's emit.serve() listens "
              "(e.g. --scrape 127.0.0.1:9464).")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Set up ``agentinsight stack up|down|status`` (the CLI dispatcher calls this)."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start Prometheus, Alertmanager and Jaeger",
                        description=(
        "Start Prometheus (port 9090), Alertmanager (9093) and Jaeger (UI and query API 16686, "
        "OTLP 4318/4317) on 127.0.0.1 and print their URLs; a port that is taken is replaced by "
        "a free one, and the output says so. Prometheus scrapes each --scrape HOST:PORT (an "
        "agent's emit.serve() endpoint); agents send spans to the printed OTLP endpoint. Grafana "
        "and Loki are not run locally (docker-compose.monitoring.yml has them). Ctrl-C or "
        "`agentinsight stack down` stops the stack; `agentinsight stack status` shows it. The "
        "Jaeger build takes about 7 minutes the first time (--build-jaeger)."))
    up.add_argument("--scrape", action="append", default=[], metavar="HOST:PORT",
                    help="a /metrics endpoint for Prometheus to scrape (repeatable)")
    up.add_argument("--scrape-interval", default="15s", help="scrape interval (default 15s)")
    up.add_argument("--rules", action="append", default=[], metavar="FILE",
                    help="a Prometheus rule file (repeatable)")
    up.add_argument("--data-dir", help="Prometheus data directory to use and keep "
                    "(default: a temporary one, removed when the stack stops)")
    up.add_argument("--no-alertmanager", action="store_true", help="do not start Alertmanager")
    up.add_argument("--no-jaeger", action="store_true", help="do not start Jaeger")
    up.add_argument("--build-jaeger", action="store_true",
                    help="build Jaeger with tools/jaeger/build.sh if it is missing (minutes)")
    for part, port in DEFAULT_PORTS.items():
        up.add_argument(f"--{part.replace('_', '-')}-port", type=int, default=port,
                        metavar="PORT", help=f"port for {part} (default {port})")
    up.add_argument("--detach", "-d", action="store_true",
                    help="run in the background and return once the stack is ready "
                         "(stop it with `agentinsight stack down`)")
    up.add_argument("--json", action="store_true", help="print the URLs as one JSON object")
    up.add_argument("--stack-dir", help=_DIR_HELP)
    status = sub.add_parser("status", help="show whether the stack runs, and where",
                            description="Show the stack `agentinsight stack up` started: each "
                            "server's PID, URL and whether it runs. Exit code 0 when it runs, "
                            "1 when it does not.")
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.add_argument("--stack-dir", help=_DIR_HELP)
    down = sub.add_parser("down", help="stop the stack that `stack up` started",
                          description="Stop the stack `agentinsight stack up` started (from any "
                          "shell): its servers get SIGTERM and its temporary data is removed.")
    down.add_argument("--stack-dir", help=_DIR_HELP)


def run(args: argparse.Namespace) -> int:
    """Run ``agentinsight stack up``, ``status`` or ``down``."""
    if args.action == "status":
        return _status(args)
    if args.action == "down":
        return _down(args)
    if args.detach:
        return _up_detached(args)
    return _up(args)


def _print_stack(state: dict[str, Any], *, detached: bool, file: Any = None,
                 servers: bool = True) -> None:
    file = file or sys.stdout
    for name, url in state["urls"].items():
        if servers or name.startswith("otlp"):
            print(f"{name:<13} {url}", file=file)
    for part, wanted, used in state["port_fallbacks"]:
        print(f"note: port {wanted} for {part} is taken; using {used} instead", file=file)
    print(file=file)
    if state["scrape_targets"]:
        print(f"scraping      {', '.join(state['scrape_targets'])}", file=file)
    if "otlp_http" in state["urls"]:
        print(f"agents:       export OTEL_EXPORTER_OTLP_ENDPOINT={state['urls']['otlp_http']}",
              file=file)
    how = "`agentinsight stack down`" if detached else "Ctrl-C or `agentinsight stack down`"
    print(f"stop with {how}; `agentinsight stack status` shows what runs", file=file, flush=True)


def _refuse_a_second_stack(folder: str | os.PathLike[str] | None) -> None:
    current = recorded_stack(folder)
    if current is not None and current["running"]:
        raise StackError(
            f"a stack is already running (pid {current['pid']}): see `agentinsight stack "
            "status`; stop it with `agentinsight stack down`")


def _up(args: argparse.Namespace) -> int:
    jaeger_binary = None
    if not args.no_jaeger:
        jaeger_binary = find_program("jaeger", build=args.build_jaeger)
    ports = {part: getattr(args, f"{part}_port") for part in DEFAULT_PORTS}
    stack = Stack(
        scrape_targets=args.scrape,
        scrape_interval=args.scrape_interval,
        rule_files=args.rules,
        prometheus_data_dir=args.data_dir,
        alertmanager=not args.no_alertmanager,
        jaeger=not args.no_jaeger,
        jaeger_binary=jaeger_binary,
        ports=ports,
    )
    _refuse_a_second_stack(args.stack_dir)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (`stack down`) and SIGHUP (the terminal closed) stop the servers cleanly.
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        stack.start()
        state_file = record_stack(stack, args.stack_dir)
        state = json.loads(state_file.read_text())
        if args.json:
            print(json.dumps(stack.urls()), flush=True)
        else:
            _print_stack(state, detached=False)
        if not args.scrape:
            print(_NO_SCRAPE, file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping…", file=sys.stderr)
        return 0
    finally:
        stack.stop()
        forget_stack(args.stack_dir)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _up_detached(args: argparse.Namespace) -> int:
    home = stack_dir(args.stack_dir)
    _refuse_a_second_stack(home)
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "stack.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "agentinsight", *_foreground_argv(args)],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=os.getcwd())
    # A first run may build Jaeger (--build-jaeger): minutes.
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise StackError(f"the stack did not start (exit code {child.returncode}); "
                             f"its log {log_path} ends:\n{tail}")
        state = recorded_stack(home)
        if state is not None and state["pid"] == child.pid:
            if args.json:
                print(json.dumps(state["urls"]), flush=True)
            else:
                _print_stack(state, detached=True)
                print(f"log           {log_path}", flush=True)
            if not args.scrape:
                print(_NO_SCRAPE, file=sys.stderr, flush=True)
            return 0
        time.sleep(0.2)
    child.terminate()
    raise StackError(f"the stack was not ready within an hour; see {log_path}")


def _foreground_argv(args: argparse.Namespace) -> list[str]:
    """The ``stack up`` command line that runs ``args``'s stack in the foreground."""
    argv = ["stack", "up", "--scrape-interval", args.scrape_interval,
            "--stack-dir", str(stack_dir(args.stack_dir))]
    argv += [x for target in args.scrape for x in ("--scrape", target)]
    argv += [x for rules in args.rules for x in ("--rules", rules)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    argv += [flag for flag in ("--no-alertmanager", "--no-jaeger", "--build-jaeger")
             if getattr(args, flag[2:].replace("-", "_"))]
    for part in DEFAULT_PORTS:
        argv += [f"--{part.replace('_', '-')}-port", str(getattr(args, f"{part}_port"))]
    return argv


def _status(args: argparse.Namespace) -> int:
    state = recorded_stack(args.stack_dir)
    if args.json:
        print(json.dumps(state or {"running": False}, indent=2))
        return 0 if state and state["running"] else 1
    if state is None:
        print(f"no stack running (no state file in {stack_dir(args.stack_dir)}); "
              "start one with `agentinsight stack up`")
        return 1
    if not state["running"]:
        print(f"the stack recorded in {state['state_file']} (pid {state['pid']}) is not "
              "running; `agentinsight stack down` clears it")
        return 1
    print(f"running since {state['started_at']} (pid {state['pid']}; "
          f"state {state['state_file']})")
    for server in state["servers"]:
        mark = "up" if server["running"] else "DOWN"
        print(f"{server['name']:<13} {server['url']:<24} {mark:<4} pid {server['pid']}")
    _print_stack(state, detached=True, servers=False)
    for line in _scrape_health(state):
        print(line)
    if not state["scrape_targets"]:
        print(_NO_SCRAPE, file=sys.stderr)
    return 0


def _scrape_health(state: dict[str, Any]) -> list[str]:
    """One line per scrape target: is it up, and Prometheus's last error when it is not."""
    import urllib.request

    url = state["urls"].get("prometheus")
    if not url or not state["scrape_targets"]:
        return []
    try:
        with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=5) as answer:
            targets = json.load(answer)["data"]["activeTargets"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"target        (Prometheus did not list its targets: {exc})"]
    if not targets:
        return ["target        not scraped yet (Prometheus applies targets within 5 s)"]
    return [f"target        {t['scrapeUrl']} {t['health']}"
            + (f" ({t['lastError']})" if t.get("lastError") else "") for t in targets]


def _down(args: argparse.Namespace) -> int:
    state = stop_recorded_stack(args.stack_dir)
    if state is None:
        print("no stack running; nothing to stop")
        return 0
    stopped = [f"{s['name']} (pid {s['pid']})" for s in state["servers"] if s["running"]]
    if state["running"] or stopped:
        print(f"stopped the stack (pid {state['pid']}): {', '.join(stopped) or 'no server left'}")
    else:
        print("the recorded stack was no longer running; its state file is removed")
    return 0
