"""CPU per ``@connections`` POST, by way of sending it: what the broadcaster pays per message.

A server in a process of its own answers every POST 200 at once (aiohttp, as the local
gateway); this process posts the same ~200-byte message N times each way, one thread, and
prints the CPU time this process spent per post (its own work only: the server's is not
counted, and CPU time does not depend on the machine's other load the way wall time does):

- boto3's ``post_to_connection`` (the management client the broadcaster used, common.data.push);
- botocore's SigV4 signer alone (``SigV4Auth.add_auth``);
- common.sigv4's signer alone (the same signature);
- signed by botocore, then httpx (a kept-alive ``httpx.Client``), ``http.client`` (one kept-alive
  connection); and ``SignedPusher`` (signed by common.sigv4, sent by ``common.http1``: the
  broadcaster's path now);
- on the receiving side, the local gateway's check of one post's signature (``local.sigv4``),
  what the stack pays per post for checking what API Gateway checks.

    .venv/bin/python bench/post_cost.py [--posts 3000]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGE = (
    b'{"v":1,"type":"price.changed","eventId":"shardId-00000001:1:price.changed",'
    b'"serverTime":1717171717171,"bidId":"user-0001#b","ebayItemId":"123456789012",'
    b'"data":{"previousPrice":1000,"currentPrice":1001,"currency":"USD"}}'
)


def serve(port: int) -> None:
    from aiohttp import web

    async def post(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    app = web.Application()
    app.add_routes([web.post("/bench/@connections/{connection_id}", post)])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def measure(name: str, posts: int, send: Callable[[], object]) -> None:
    for _ in range(min(200, posts)):
        send()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(posts):
        send()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{name:<34} {1e6 * cpu / posts:7.0f} us CPU per post ({1e6 * wall / posts:.0f} us wall)")


def main(args: argparse.Namespace) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "BOTO_DISABLE_CRT": "true",  # as on Lambda: the deployed layer has no awscrt
        }
    )
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from common.data.push import SignedPusher, management_client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}/bench"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    connection_id, path = "AbCdEfGhIjKlMnO=", "/bench/@connections/AbCdEfGhIjKlMnO%3D"
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.posts} posts")

    boto = management_client(base)
    measure(
        "boto3 post_to_connection",
        args.posts,
        lambda: boto.post_to_connection(ConnectionId=connection_id, Data=MESSAGE),
    )

    pusher = SignedPusher(base)
    signer = SigV4Auth(pusher.signer.credentials, "execute-api", "us-east-1")

    def signed_headers() -> dict[str, str]:
        request = AWSRequest("POST", base.replace("/bench", "") + path, data=MESSAGE)
        signer.add_auth(request)
        return dict(request.headers.items())

    measure("botocore SigV4Auth alone", args.posts, signed_headers)
    measure(
        "common.sigv4 alone",
        args.posts,
        lambda: pusher.signer.headers("POST", f"127.0.0.1:{port}", path, MESSAGE),
    )

    client = httpx.Client(limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))

    def with_httpx() -> None:
        client.post(f"http://127.0.0.1:{port}{path}", content=MESSAGE, headers=signed_headers())

    measure("signed + httpx", args.posts, with_httpx)
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def with_http_client() -> None:
        connection.request("POST", path, body=MESSAGE, headers=signed_headers())
        connection.getresponse().read()

    measure("signed + http.client", args.posts, with_http_client)
    measure(
        "SignedPusher (common.sigv4 + http1)",
        args.posts,
        lambda: pusher.post(connection_id, MESSAGE),
    )
    server.kill()

    from local import sigv4

    received = {**signed_headers(), "Host": f"127.0.0.1:{port}"}  # as the HTTP client sends it
    secrets = {"testing": "testing"}

    def check() -> None:
        if sigv4.check("POST", path, "", received, MESSAGE, secrets=secrets, region="us-east-1"):
            raise SystemExit("the gateway's check refused a post botocore signed")

    measure("gateway's check (local.sigv4)", args.posts, check)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=3000)
    main(parser.parse_args())
