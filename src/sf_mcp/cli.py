"""The ``sf-mcp`` command: serve, demo (and the chain commands as they land)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx2

from sf_mcp import package_version
from sf_mcp.config import Settings, load_settings
from sf_mcp.errors import SfMcpError
from sf_mcp.generation.base import GenerationKind


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) is None:  # `sf-mcp` alone: say what it can do
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(
            data_dir=args.data_dir,
            rpc_url=getattr(args, "rpc_url", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
        )
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        return command(args, settings)
    except SfMcpError as exc:
        print(f"sf-mcp: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:  # raised from inside a task group (the server's lifespan)
        ours, rest = group.split(SfMcpError)
        if ours is None or rest is not None:
            raise
        print(f"sf-mcp: {_first(ours)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _first(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


SERVE_HELP = """\
Run the MCP server.

transports:
  stdio  (default) for a local assistant or IDE that starts sf-mcp itself (Claude Desktop, Cursor,
         VS Code): MCP over stdin/stdout; the caller is this server's wallet (SF_WALLET or
         SF_AGENT_KEY; in embedded mode the first development account). Paying and staking are
         signed and sent only with SF_AGENT_KEY; otherwise unsigned plans come back.
  http   MCP over streamable HTTP at http://HOST:PORT/mcp, for remote and hosted assistants; every
         request needs a bearer token from Sign-In with Ethereum (`sf-mcp login`).

Without --rpc-url the embedded chain runs in this process (contracts deployed, dev accounts funded)."""


def _common(*, on_command: bool) -> argparse.ArgumentParser:
    """--data-dir and -v, accepted before or after the command.

    The copy on each command leaves the value unset (SUPPRESS) when it is not given there,
    so it never hides one given before the command.
    """
    common = argparse.ArgumentParser(add_help=False)
    unset: dict[str, Any] = {"default": argparse.SUPPRESS} if on_command else {}
    common.add_argument("--data-dir", type=Path, help="database, content and deployment files "
                        "(env SF_DATA_DIR; default: the user data dir)", **unset)
    common.add_argument("-v", "--verbose", action="store_true", help="log to stderr at INFO level", **unset)
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common(on_command=True)
    parser = argparse.ArgumentParser(prog="sf-mcp", description="MCP server for paid, on-chain AI generation on Sonic.",
                                     parents=[_common(on_command=False)])
    parser.set_defaults(command=None)
    parser.add_argument("--version", action="version", version=f"sf-mcp {package_version()}")
    sub = parser.add_subparsers(metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the MCP server (stdio or streamable HTTP)",
                           description=SERVE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                       help="stdio or http, see above (default: %(default)s)")
    serve.add_argument("--host", help="HTTP bind address (env SF_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (env SF_PORT; default 8000)")
    serve.add_argument("--rpc-url", help="JSON-RPC URL of anvil or Sonic (env SF_RPC_URL; default: the embedded chain)")
    serve.add_argument("--log-json", action="store_true", help="HTTP: structured JSON logs at INFO level on stderr")
    serve.set_defaults(command=_serve)

    login = sub.add_parser(
        "login", parents=[common], help="sign in to an HTTP sf-mcp server with Ethereum and print a bearer token")
    login.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000")
    login.add_argument("--key-env", required=True, metavar="VAR",
                       help="name of the environment variable holding the wallet's private key")
    login.set_defaults(command=_login)

    deploy = sub.add_parser(
        "deploy", parents=[common], help="deploy the contracts to an RPC node and write the deployment file")
    deploy.add_argument("--rpc-url", required=True, help="JSON-RPC URL (anvil: http://127.0.0.1:8545)")
    deploy.add_argument("--dev", action="store_true", help="also deploy MockUSDC and BanditKidz and fund dev accounts; "
                        "signs with anvil's first dev key unless SF_OPERATOR_KEY is set")
    deploy.add_argument("--usdc", help="USDC token address (required without --dev)")
    deploy.add_argument("--nft", help="BanditKidz NFT address (required without --dev)")
    deploy.add_argument("--operator", help="address given OPERATOR_ROLE (default: the deploying key)")
    deploy.add_argument("--dev-wallet", help="receives 50 %% of payments (default: the deploying key)")
    deploy.add_argument("--treasury", help="receives 10 %% of payments (default: the deploying key)")
    deploy.add_argument("--contest-duration", type=int, help="seconds per contest (default 7 days)")
    deploy.set_defaults(command=_deploy)

    devnet = sub.add_parser(
        "devnet", parents=[common], help="start anvil from the npm toolchain, deploy with --dev, print accounts")
    devnet.add_argument("--port", type=int, default=8545, help="anvil port (default 8545)")
    devnet.set_defaults(command=_devnet)

    indexer = sub.add_parser("indexer", parents=[common], help="run the chain event indexer without the MCP server")
    indexer.add_argument("--rpc-url", help="JSON-RPC URL of anvil or Sonic (as given to serve)")
    indexer.set_defaults(command=_indexer)

    migrate = sub.add_parser(
        "migrate", parents=[common], help="bring the database (SF_DATABASE_URL) to this version's schema")
    migrate.set_defaults(command=_migrate)

    review = sub.add_parser(
        "review", parents=[common], help="list payments that need an operator: failed refunds, payments with no job")
    review.add_argument("--json", action="store_true", help="print JSON instead of a table")
    review.add_argument("--check", action="store_true", help="exit with status 1 when the queue is not empty (cron)")
    review.set_defaults(command=_review)

    providers = sub.add_parser("providers", parents=[common], help="the model providers: what a generation will use")
    providers_sub = providers.add_subparsers(required=True, metavar="ACTION")
    check = providers_sub.add_parser("check", parents=[common], help="ask the Hub which provider serves each "
                                     "configured model (with your token) and print what a generation will use")
    check.add_argument("--live", action="store_true",
                       help="also send one tiny image request to each provider (costs a little)")
    check.set_defaults(command=_providers_check)

    demo = sub.add_parser(
        "demo", parents=[common], help="run a scripted MCP session on the embedded defaults and print it")
    demo.add_argument("--out", type=Path, default=Path("sf-mcp-demo"), help="folder for the generated images")
    demo.set_defaults(command=_demo)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from sf_mcp.server import build_server
    from sf_mcp.server.services import check_settings
    from sf_mcp.store import check_schema

    check_settings(settings)
    anyio.run(lambda: check_schema(settings.storage.database))  # replicas never start on a half-migrated database
    from sf_mcp.generation import warn_unserved_in_background

    warn_unserved_in_background(settings)
    if args.transport == "stdio":
        anyio.run(build_server(settings).run_stdio_async)
    else:
        from sf_mcp.server import serve_http
        from sf_mcp.server.http.auth import public_url

        if getattr(args, "log_json", False):
            from sf_mcp.server.http.observability import configure_json_logging

            configure_json_logging()
        def announce() -> None:
            print(f"sf-mcp: serving MCP at {public_url(settings)}/mcp (sign in at /auth/nonce)",
                  file=sys.stderr, flush=True)

        anyio.run(lambda: serve_http(settings, announce=announce))
    return 0


def _providers_check(args: argparse.Namespace, settings: Settings) -> int:
    from sf_mcp.generation import check_providers, render_report

    report = anyio.run(lambda: check_providers(settings, live=args.live))
    print(render_report(report), end="")
    return 0 if report.plan(GenerationKind.IMAGE) else 1


def _login(args: argparse.Namespace, settings: Settings) -> int:
    """Sign in with Ethereum: fetch the server's message, sign it locally, print the bearer token."""
    import os

    from sf_mcp.signatures import address_of_key, sign_text

    key = os.environ.get(args.key_env)
    if not key:
        print(f"sf-mcp: environment variable {args.key_env} is not set (it should hold the private key)", file=sys.stderr)
        return 2
    try:
        address = address_of_key(key)
    except Exception:
        print(f"sf-mcp: {args.key_env} does not hold a valid private key", file=sys.stderr)
        return 2
    base = args.url.rstrip("/").removesuffix("/mcp")
    try:
        with httpx2.Client(base_url=base, timeout=30) as http:
            issued = http.get("/auth/nonce", params={"address": address})
            if issued.status_code != 200:
                print(f"sf-mcp: {base}/auth/nonce answered {issued.status_code}: {_reason(issued)}", file=sys.stderr)
                return 1
            message = issued.json()["message"]
            verified = http.post("/auth/verify", json={"message": message, "signature": sign_text(key, message)})
    except httpx2.HTTPError as exc:
        print(f"sf-mcp: cannot reach {base}: {type(exc).__name__}", file=sys.stderr)
        return 1
    if verified.status_code != 200:
        print(f"sf-mcp: sign-in refused ({verified.status_code}): {_reason(verified)}", file=sys.stderr)
        return 1
    result = verified.json()
    print(f"sf-mcp: signed in as {result['wallet']} until {result['expires_at']}", file=sys.stderr)
    print(result["token"])
    return 0


def _reason(response: httpx2.Response) -> str:
    try:
        return str(response.json().get("error_description", response.text[:200]))
    except ValueError:
        return str(response.text[:200])


def _deploy(args: argparse.Namespace, settings: Settings) -> int:
    from sf_mcp.chain.devnet import describe, run_deploy

    deployment = anyio.run(lambda: run_deploy(
        settings, dev=args.dev, usdc=args.usdc, nft=args.nft, operator=args.operator, dev_wallet=args.dev_wallet,
        treasury=args.treasury, contest_duration=args.contest_duration,
    ))
    print(describe(deployment, settings.deployment_path))
    return 0


def _devnet(args: argparse.Namespace, settings: Settings) -> int:
    from sf_mcp.chain.devnet import devnet

    return devnet(settings, port=args.port)


def _indexer(args: argparse.Namespace, settings: Settings) -> int:
    from sf_mcp.chain.devnet import run_indexer

    anyio.run(lambda: run_indexer(settings))
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations (replicas on PostgreSQL refuse to start until this ran)."""
    from sf_mcp.store import migrate, redacted_url

    before, after = anyio.run(lambda: migrate(settings.storage.database))
    where = redacted_url(settings.storage.database)
    print(f"{where}: at migration {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


def _review(args: argparse.Namespace, settings: Settings) -> int:
    """Print the review queue from the database (no chain needed); with --check, exit 1 when it is not empty."""
    import json

    from sf_mcp.server.ops import review_table
    from sf_mcp.store import ReviewItem, Store

    async def items() -> list[ReviewItem]:
        store = await Store.open(settings.storage.database)
        try:
            return await store.review.items()
        finally:
            await store.close()

    found = anyio.run(items)
    if args.json:
        print(json.dumps([i.model_dump(mode="json") for i in found], indent=2))
    else:
        print(review_table(found))
    return 1 if found and args.check else 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo; without --data-dir or SF_DATA_DIR in a fresh folder, so it works every time."""
    import os
    import tempfile

    from sf_mcp.demo import run_demo

    if args.data_dir is None and "SF_DATA_DIR" not in os.environ:
        with tempfile.TemporaryDirectory(prefix="sf-mcp-demo-") as fresh:
            demo_settings = settings.updated(data_dir=Path(fresh))
            anyio.run(lambda: run_demo(demo_settings, out_dir=args.out))
        return 0
    anyio.run(lambda: run_demo(settings, out_dir=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
