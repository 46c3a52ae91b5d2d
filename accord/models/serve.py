"""An OpenAI-compatible chat endpoint in front of any accord Backend, on 127.0.0.1.

For tests and benchmarks of the `openai` backend against a server whose behaviour is known:
`n` honoured (one `complete_many` call, the prompt counted once) or ignored (one choice, as
`python -m llama_cpp.server` does), and `usage.prompt_tokens_details.cached_tokens` reported
from the backend's own `cached_prompt_tokens` (a llama backend with `reuse_prefix=True`
reuses the longest prompt prefix left in its context, as a server's prefix cache does).
Tools, tool calls, tool results and `response_format: json_schema` are read and written in
OpenAI's shapes (`openai_wire`). Calls to the backend are serialised (a model context is not
thread-safe). Nothing here reaches beyond the loopback interface.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

from accord.models.base import Backend, Completion, CompletionRequest, complete_many
from accord.models.openai_wire import read_message, read_response_format, read_tools, wire_choice


class ChatServer:
    """Serves `backend` at `url` (`/v1/chat/completions`, `/v1/models`) until `close()`."""

    def __init__(self, backend: Backend, *, honour_n: bool = True, model: str = "served") -> None:
        self.backend = backend
        self.honour_n = honour_n
        self.model = model
        self.requests: list[dict[str, Any]] = []  # every chat payload received, in order
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": server.model}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length))
                    body = server.chat(payload)
                except (ValueError, KeyError, TypeError) as exc:
                    self._send(400, {"error": {"message": str(exc)}})
                    return
                self._send(200, body)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> ChatServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving."""
        self._http.shutdown()
        self._http.server_close()

    def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The response body for one chat-completions payload."""
        self.requests.append(payload)
        seed = payload.get("seed")
        request = CompletionRequest(
            messages=tuple(read_message(m) for m in payload["messages"]),
            max_tokens=int(payload.get("max_tokens") or 64),
            temperature=float(payload.get("temperature") or 0.0),
            seed=seed,
            stop=tuple(payload.get("stop") or ()),
            tools=read_tools(payload.get("tools") or ()),
            json_schema=read_response_format(payload.get("response_format")),
        )
        n = int(payload.get("n") or 1) if self.honour_n else 1
        seeds = [None if seed is None else seed + i for i in range(n)]
        with self._lock:
            completions = complete_many(self.backend, request, seeds)
        return self._body(completions)

    def _body(self, completions: list[Completion]) -> dict[str, Any]:
        first = completions[0].usage
        completion_tokens = sum(c.usage.completion_tokens for c in completions)
        return {
            "object": "chat.completion",
            "model": self.model,
            "choices": [wire_choice(i, c) for i, c in enumerate(completions)],
            "usage": {
                "prompt_tokens": first.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": first.prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": first.cached_prompt_tokens},
            },
        }
