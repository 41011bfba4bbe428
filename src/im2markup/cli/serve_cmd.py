"""`im2markup serve`: the HTTP API and the web page."""

from __future__ import annotations

import argparse

from im2markup.cli.arguments import non_negative_int, positive_float, positive_int
from im2markup.serving.limits import ServerLimits


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    defaults = ServerLimits()
    parser = sub.add_parser(
        "serve",
        help="run the HTTP API and web page",
        description="Serve POST /api/predict, GET /healthz, /openapi.json and a page at /.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", metavar="DIR", help="model directory (default: bundled)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=defaults.workers,
        metavar="N",
        help="requests decoded at once (threads sharing one model)",
    )
    parser.add_argument(
        "--queue",
        type=non_negative_int,
        default=defaults.queue_size,
        metavar="N",
        help="requests that may wait for a worker; more are refused with 503",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=defaults.request_timeout_s,
        metavar="SECONDS",
        help="answer 504 and stop the work when a prediction takes longer",
    )
    parser.add_argument(
        "--read-timeout",
        type=positive_float,
        default=defaults.read_timeout_s,
        metavar="SECONDS",
        help="close a connection whose headers take longer; answer 408 to a body that does",
    )
    parser.add_argument(
        "--max-request-mb",
        type=positive_float,
        default=defaults.max_request_bytes / 2**20,
        metavar="MB",
        help="larger requests are refused with 413",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="PyTorch CPU threads for the process (default 1)",
    )
    parser.add_argument(
        "--fp32",
        action="store_true",
        help="decode in float32 (on a CPU the default is int8 recurrent and linear weights "
        "and, where the CPU has bf16, bf16 convolutions: about twice as fast)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from im2markup.serving.app import serve

    limits = ServerLimits(
        workers=args.workers,
        queue_size=args.queue,
        request_timeout_s=args.timeout,
        read_timeout_s=args.read_timeout,
        max_request_bytes=int(args.max_request_mb * 2**20),
    )
    int8 = not args.fp32
    serve(args.host, args.port, args.model, args.device, limits, threads=args.threads, int8=int8)
    return 0
