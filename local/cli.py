"""``sniper``: the local stack's command line. ``sniper up [--port 8000]`` runs the backend.

Subcommands are argparse sub-parsers; another part of the project adds its own with
``register(subparsers)`` in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from cli.ws import register as register_ws
from local.smoke import register as register_smoke
from local.stack import LocalCloud, PortInUseError

EXIT_USAGE = 2


def _add_up(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="run the whole backend locally (no AWS account, no Docker)",
        description="Run the whole backend in this process: AWS stand-in (moto), the REST API "
        "behind an API Gateway-like HTTP gateway, and the eBay simulator. State is in memory.",
    )
    up.add_argument(
        "--port",
        type=int,
        default=8000,
        help="REST API port (default 8000); "
        "the eBay simulator uses port+1 and the AWS endpoint port+2",
    )
    up.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    up.add_argument("--seed", type=int, default=0, help="random seed of the eBay simulator")
    up.add_argument("--no-demo", action="store_true", help="no demo user and demo auctions")
    up.add_argument("-v", "--verbose", action="store_true", help="log every request")
    up.add_argument(
        "--isolation",
        choices=["thread", "process"],
        default="thread",
        help="run Lambda invocations in this process's threads (light), or each concurrent one "
        "in a container process of its own, as Lambda does (heavier, more faithful)",
    )
    up.add_argument(
        "--hosted-dashboard",
        action="store_true",
        help="also serve the dashboard as the stack deploys it, on port+4: signed in through the "
        "Cognito Hosted UI stand-in, with the template's security headers; it becomes the "
        "stack's dashboard URL (eBay's accept URL, CORS, email links)",
    )
    up.set_defaults(run=_up)


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_up,
    register_ws,
    register_smoke,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sniper", description="eBay Sniper local tools")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


def _up(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stack = LocalCloud(
        port=args.port,
        host=args.host,
        seed=args.seed,
        demo=not args.no_demo,
        lambda_isolation=args.isolation,
        hosted_dashboard=args.hosted_dashboard,
    )
    try:
        asyncio.run(_serve(stack))
    except PortInUseError as exc:
        print(f"sniper: {exc}; choose another with --port", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        pass
    print("Local stack stopped; its in-memory state is gone.", flush=True)
    return 0


async def _serve(stack: LocalCloud) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stack.start()
        print(stack.banner(), flush=True)
        await stopping.wait()
    finally:
        await stack.stop()


if __name__ == "__main__":
    sys.exit(main())
