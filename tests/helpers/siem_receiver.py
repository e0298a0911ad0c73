"""A SIEM's HTTP collector stand-in, as its own process (so a test can kill it):
`python -m tests.helpers.siem_receiver --port P --out FILE [--mode ok|throttle|fail]`.

Every request is one JSON line in FILE, written and fsynced before the answer:
`{"t": epoch seconds, "status": answered, "content_type": ..., "event": the body}`.
A body that is not a whole JSON object (its sender died sending it) is answered 400.
Modes: `ok` answers 200; `throttle` answers 429 with `Retry-After: 1` to every event's
first POST, then 200; `fail` answers 503 to everything.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="ok", choices=["ok", "throttle", "fail"])
    args = parser.parse_args()
    out = open(args.out, "a+", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    # A line torn by a kill (its request was never answered, so it is re-sent) must not
    # swallow the next one.
    if out.tell() > 0:
        out.seek(out.tell() - 1)
        if out.read(1) != "\n":
            out.write("\n")
    throttled: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            status, headers = 200, {}
            event_id = str(body.get("id")) if isinstance(body, dict) else ""
            if not isinstance(body, dict):  # a sender killed before its body was sent
                status = 400
            elif args.mode == "fail":
                status = 503
            elif args.mode == "throttle" and event_id not in throttled:
                throttled.add(event_id)
                status, headers = 429, {"Retry-After": "1"}
            line = {
                "t": time.time(),
                "status": status,
                "content_type": self.headers.get("Content-Type"),
                "event": body,
            }
            out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
