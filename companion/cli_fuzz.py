"""`companion bench fuzz`: hostile input against the codec, the SDP path and every route.

    companion bench fuzz --cases 1000000 --json

decodes that many random and mutated messages (only ProtocolError may come
out), then starts the gateway with accounts, history and memory and the
cloud's OpenAI-compatible port here (stand-in models: no question is ever
answered by a model) and sends it mutated SDP offers and random HTTP requests
(never a 5xx), and counts the sessions still open once every connect deadline
has passed (none may be). Seeded: the same seed replays the same cases.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from companion.cli_support import Subcommands, UsageError, print_result


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    bench = benchmarks.add_parser(
        "fuzz", help="hostile input to the codec, SDP offers and HTTP routes: crashes and leaks"
    )
    bench.add_argument("--cases", type=int, default=100_000, help="codec cases (default 100000)")
    bench.add_argument("--sdp-cases", type=int, default=200, help="mutated offers (default 200)")
    bench.add_argument(
        "--http-cases", type=int, default=2_000, help="random HTTP requests (default 2000)"
    )
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(run=_bench_fuzz)


async def _bench_fuzz(args: argparse.Namespace) -> int:
    if min(args.cases, args.sdp_cases, args.http_cases) < 0:
        raise UsageError("case counts must not be negative")
    result = await run_fuzz(
        codec_cases=args.cases,
        sdp_cases=args.sdp_cases,
        http_cases=args.http_cases,
        seed=args.seed,
    )
    print_result(result, args.json)
    return 1 if result["crashes"] or result["sessions_leaked"] else 0


async def run_fuzz(
    *, codec_cases: int, sdp_cases: int, http_cases: int, seed: int
) -> dict[str, Any]:
    import aiohttp

    from simulators.fuzzing import (
        fuzz_codec,
        fuzz_http,
        fuzz_signalling,
        fuzz_target,
        sessions_left_after,
    )

    codec = await asyncio.to_thread(fuzz_codec, codec_cases, seed=seed)
    deadline_s = 1.0
    with tempfile.TemporaryDirectory(prefix="companion-fuzz-") as folder:
        async with fuzz_target(Path(folder), connect_deadline_s=deadline_s) as target:
            async with aiohttp.ClientSession() as http:
                auth = {"Authorization": f"Bearer {target.tokens[0]}"}
                sdp = await fuzz_signalling(
                    http, target.stack.gateway_url, sdp_cases, seed=seed, headers=auth
                )
                routes = await fuzz_http(
                    http, target.targets, http_cases, tokens=target.tokens, seed=seed
                )
                # The gateway still answers a plain request afterwards.
                async with http.get(target.stack.gateway_url + "/healthz") as reply:
                    alive = reply.status == 200
            leaked = await sessions_left_after(target.live_sessions, deadline_s + 5.0)
    return {
        "codec": codec.to_json(),
        "sdp": sdp.to_json(),
        "http": routes.to_json(),
        "routes": sum(len(paths) for _, paths in target.targets),
        "cases": codec.cases + sdp.cases + routes.cases,
        "crashes": codec.crashes + sdp.crashes + routes.crashes + (0 if alive else 1),
        "sessions_leaked": leaked,
        "gateway_alive": alive,
    }
