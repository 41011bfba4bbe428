"""A server flooded with pages of text: latency of a normal formula and the server's memory.

Starts `im2markup serve` (bundled model unless `--model`, default limits, `--threads`
PyTorch threads), then sends the first `--formulas` shared test images of median length
(50–56 tokens) one at a time to learn the usual latency. Each of `--rounds` rounds then posts
`--pages` copies of a 1000×1000 PNG of a page of text (lines of test formulas in PIL's
default font) at once and, right behind them, one formula, retried while the server answers
503 as its Retry-After says; the formula's latency counts from its first try to its answer.
Every sender keeps one connection (an `httpx.Client` made before the clock starts), as a
browser or a script would: a new client per request costs the load generator about 20 ms of
CPU under its GIL, which on a 2-core machine would be counted as the server's latency.
A sampler reads the resident memory of the server and its children from /proc every 20 ms.

    .venv/bin/python benchmarks/text_page_flood.py --out /tmp/flood
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from im2markup.evaluation.transforms import text_page
from im2markup.paths import shared_data_dir

MEDIAN_TOKENS = 53
TOLERANCE = 3


def median_length_images(root: Path, lines: list[str], count: int) -> list[bytes]:
    """The PNG bytes of the first `count` shared test images whose gold is 50–56 tokens."""
    wanted = [
        f"{k}.png"
        for k, line in enumerate(lines)
        if abs(len(line.split()) - MEDIAN_TOKENS) <= TOLERANCE
    ][: 4 * count]
    found: dict[str, bytes] = {}
    with tarfile.open(root / "images_test.tar") as tar:
        for member in tar:
            name = Path(member.name).name
            if member.isfile() and name in wanted:
                found[name] = tar.extractfile(member).read()
    return [found[name] for name in wanted if name in found][:count]


def tree_rss_kib(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in KiB (0 once it has exited)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0])
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


class MemorySampler(threading.Thread):
    """Samples `tree_rss_kib(pid)` every `interval` seconds and keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
            time.sleep(self.interval)


def post(client: httpx.Client, data: bytes, name: str) -> httpx.Response:
    """Upload `data` as the multipart file `name` through `client` (made with the server's
    URL as its base)."""
    return client.post("/api/predict", files={"file": (name, data, "image/png")})


def timed_post(client: httpx.Client, data: bytes) -> tuple[int, float]:
    """The status of one upload of `data` and the seconds it took."""
    start = time.perf_counter()
    return post(client, data, "page.png").status_code, time.perf_counter() - start


def until_answered(client: httpx.Client, data: bytes) -> tuple[float, int, int]:
    """Seconds from the first try to an answer other than 503, that status, and the tries."""
    start, tries = time.perf_counter(), 1
    answer = post(client, data, "formula.png")
    while answer.status_code == 503:
        time.sleep(float(answer.headers.get("retry-after", "1")))
        answer, tries = post(client, data, "formula.png"), tries + 1
    return time.perf_counter() - start, answer.status_code, tries


def page_statistics(answers: list[tuple[int, float]]) -> dict[str, object]:
    """How many pages got each status, and the median and longest wait for an answer."""
    statuses = [status for status, _ in answers]
    seconds = [took for _, took in answers]
    return {
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "answer_s": {
            "median": round(statistics.median(seconds), 3),
            "max": round(max(seconds), 3),
        },
    }


def page_bursts(
    senders: list[httpx.Client],
    client: httpx.Client,
    page: bytes,
    formulas: list[bytes],
    rounds: int,
) -> dict[str, object]:
    """`rounds` times: one upload of `page` from each of `senders` at once and one formula
    from `client` right behind them."""
    behind, tries, answers = [], [], []
    with ThreadPoolExecutor(max_workers=len(senders)) as threads:
        for round_ in range(rounds):
            posted = [threads.submit(timed_post, sender, page) for sender in senders]
            time.sleep(0.05)  # the pages reach the server first
            seconds, status, tried = until_answered(client, formulas[round_ % len(formulas)])
            assert status == 200, status
            behind.append(round(seconds, 3))
            tries.append(tried)
            answers += [future.result() for future in posted]
    return {"formula_s": behind, "formula_tries": tries, "pages": page_statistics(answers)}


def steady_flood(
    senders: list[httpx.Client],
    client: httpx.Client,
    page: bytes,
    formulas: list[bytes],
    seconds: float,
) -> dict[str, object]:
    """Each of `senders` uploading `page` again as soon as answered, for `seconds`, while
    `client` sends formulas one after another (a formula still refused when the pages stop
    waits for them to stop)."""
    stop = threading.Event()

    def flood(sender: httpx.Client) -> list[tuple[int, float]]:
        answers = []
        while not stop.is_set():
            answers.append(timed_post(sender, page))
        return answers

    latencies, tries = [], []
    with ThreadPoolExecutor(max_workers=len(senders)) as threads:
        flooding = [threads.submit(flood, sender) for sender in senders]
        time.sleep(0.5)
        timer = threading.Timer(seconds, stop.set)
        timer.start()
        while not stop.is_set():
            took, status, tried = until_answered(client, formulas[len(latencies) % len(formulas)])
            assert status == 200, status
            latencies.append(round(took, 3))
            tries.append(tried)
        stop.set()
        answers = [answer for future in flooding for answer in future.result()]
    return {"formula_s": latencies, "formula_tries": tries, "pages": page_statistics(answers)}


def start_server(model: str | None, threads: int) -> tuple[str, subprocess.Popen]:
    """`im2markup serve` on a free local port once it answers `/healthz`: its URL and process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "im2markup.cli.main", "serve", "--port", str(port)]
    command += ["--threads", str(threads), *(["--model", model] if model else [])]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: bundled)")
    parser.add_argument("--threads", type=int, default=1, help="serve --threads (default 1)")
    parser.add_argument("--formulas", type=int, default=10)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5, help="bursts of --pages at once")
    parser.add_argument(
        "--sustained", type=float, default=20.0, help="seconds of pages sent without a pause"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = shared_data_dir() / "im2latex100k"
    lines = (root / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    formulas = median_length_images(root, lines, args.formulas)
    page = text_page(lines)
    url, server = start_server(args.model, args.threads)
    sampler = MemorySampler(server.pid)
    client = httpx.Client(base_url=url, timeout=300)
    senders = [httpx.Client(base_url=url, timeout=300) for _ in range(args.pages)]
    try:
        post(client, formulas[0], "warm-up.png")
        sampler.start()
        idle = []
        for data in formulas:
            seconds, status, _ = until_answered(client, data)
            assert status == 200, status
            idle.append(seconds)
        burst = page_bursts(senders, client, page, formulas, args.rounds)
        steady = steady_flood(senders, client, page, formulas, args.sustained)
        sampler.stopped.set()
        sampler.join()
        health = httpx.get(f"{url}/healthz", timeout=10).json()
        hwm_kib = int(Path(f"/proc/{server.pid}/status").read_text().split("VmHWM:")[1].split()[0])
    finally:
        for each in (client, *senders):
            each.close()
        os.kill(server.pid, signal.SIGINT)
        server.wait(timeout=60)
    summary = {
        "model": args.model or "bundled",
        "server_threads": args.threads,
        "page_png_bytes": len(page),
        "idle_formula_s": {
            "median": round(statistics.median(idle), 3),
            "max": round(max(idle), 3),
        },
        "bursts": burst,
        "sustained": steady,
        "health_after": health,
        "peak_tree_rss_mib": round(sampler.peak_kib / 1024),
        "server_vmhwm_mib": round(hwm_kib / 1024),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
