"""A scripted model behind Anthropic's Messages API, for driving a real coding agent
(Claude Code) without a real model: the agent's turn asks for one tool call, the next
request (carrying the tool's result, or the hook's denial) gets a closing text.

Every request is recorded, so a test can assert what reached the model. Streams as the
Messages API does (server-sent events) when the request asks for it, which Claude Code's
main loop does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedModel", "scripted_model"]


class ScriptedModel:
    def __init__(self, tool: str, tool_input: dict[str, Any], closing: str = "Done.") -> None:
        self.tool, self.tool_input, self.closing = tool, tool_input, closing
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._lock = threading.Lock()

    def record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    def agent_turns(self) -> list[dict[str, Any]]:
        """The requests of the agent's main loop (those offering the tool)."""
        with self._lock:
            return [r for r in self.requests if self._offers_tool(r)]

    def _offers_tool(self, body: dict[str, Any]) -> bool:
        return any(t.get("name") == self.tool for t in body.get("tools") or [])

    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block the agent sent back to the model."""
        found = []
        for body in self.agent_turns():
            for message in body.get("messages", []):
                content = message.get("content")
                if message.get("role") == "user" and isinstance(content, list):
                    found += [b for b in content if b.get("type") == "tool_result"]
        return found

    def reply(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The content blocks to answer: the tool call, once; then the closing text."""
        if not self._offers_tool(body):
            return [{"type": "text", "text": "ok"}]  # a side request (titles, summaries)
        last = (body.get("messages") or [{}])[-1]
        content = last.get("content")
        if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content):
            return [{"type": "text", "text": self.closing}]
        use_id = f"toolu_scripted_{len(self.requests)}"
        return [{"type": "tool_use", "id": use_id, "name": self.tool, "input": self.tool_input}]


def _events(blocks: list[dict[str, Any]], model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    yield "message_start", {"type": "message_start", "message": {
        "id": "msg_scripted", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }}  # fmt: skip
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_start", {"type": "content_block_start", "index": index,
                                      "content_block": start}  # fmt: skip
        yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                      "delta": delta}  # fmt: skip
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": 5}}  # fmt: skip
    yield "message_stop", {"type": "message_stop"}


def _handler(script: ScriptedModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            path = self.path.split("?")[0]
            if path.endswith("/count_tokens"):
                self._json(200, {"input_tokens": 10})
                return
            if not path.endswith("/v1/messages"):
                self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": path}})  # fmt: skip
                return
            script.record(body)
            blocks = script.reply(body)
            model = str(body.get("model", "scripted"))
            if not body.get("stream"):
                stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
                self._json(200, {
                    "id": "msg_scripted", "type": "message", "role": "assistant",
                    "model": model, "content": blocks, "stop_reason": stop,
                    "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5},
                })  # fmt: skip
                return
            stream = "".join(
                f"event: {name}\ndata: {json.dumps(data)}\n\n"
                for name, data in _events(blocks, model)
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(stream)))
            self.end_headers()
            self.wfile.write(stream)

        def do_GET(self) -> None:
            self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                        "message": self.path}})  # fmt: skip

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def scripted_model(script: ScriptedModel) -> Iterator[ScriptedModel]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()
