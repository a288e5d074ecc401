"""``python -m local.ebay_sim --port 8001 [--seed N] [--no-bots] [--no-bulk-items]
[--demo-user NAME]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from local.ebay_sim.config import SimConfig
from local.ebay_sim.server import start_simulator
from local.ebay_sim.simulator import Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.ebay_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bots", action="store_true", help="no competing bidders")
    parser.add_argument(
        "--no-bulk-items",
        action="store_true",
        help="the app keyset is not granted getItems (buy.item.bulk), a Limited Release method",
    )
    parser.add_argument("--demo-user", help="seed demo auctions in this eBay user's watch list")
    parser.add_argument("--client-id", default="SimSnipe-Sniper-PRD-0a1b2c3d4-e5f6a7b8")
    parser.add_argument("--client-secret", default="PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b")
    parser.add_argument("--ru-name", default="Sim_Sniper-SimSnipe-Sniper-abcdefgh")
    parser.add_argument("--accept-url", default="http://127.0.0.1:8000/ebay/callback")
    parser.add_argument("--decline-url", default="http://127.0.0.1:8000/ebay/declined")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = SimConfig(
        client_id=args.client_id,
        client_secret=args.client_secret,
        ru_name=args.ru_name,
        accept_url=args.accept_url,
        decline_url=args.decline_url,
        seed=args.seed,
        bots=not args.no_bots,
        bulk_items=not args.no_bulk_items,
    )
    sim = Simulator(config)
    if args.demo_user:
        sim.seed_demo(args.demo_user)
    runner, base_url = await start_simulator(sim, args.host, args.port)
    print(f"eBay simulator listening on {base_url}")
    print(f"  client id:     {config.client_id}")
    print(f"  client secret: {config.client_secret}")
    print(f"  RuName:        {config.ru_name}")
    if args.demo_user:
        print(f"  demo auctions in the watch list of: {args.demo_user}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
