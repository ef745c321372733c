"""A fake OpenAI-compatible chat endpoint: a real HTTP server on 127.0.0.1 answering
``POST /v1/chat/completions`` in the shape of the OpenAI API (and of the local servers that copy
it: vLLM, Ollama, llama.cpp), for the optional LLM prose of ``shipwise ask`` (docs/ask.md).

It checks the request as the real API would — JSON body, ``model`` a string, ``messages`` a
non-empty list of ``{role, content}`` with roles system/user/assistant, optional
``temperature``, ``max_tokens`` and ``stream`` (only false is served) — and the bearer key when
it has one; a bad request is a 400 with the API's error shape ``{"error": {"message", "type",
"param", "code"}}``, a wrong key a 401. The reply is ``reply(messages)`` (a function of the
test's choosing) as a ``chat.completion`` object with ``choices[0].message.content`` and
``usage``. ``delay`` makes it slow (a timeout); ``fail()`` scripts an error status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.server import FakeServer

KEY = "sk-fake-0123456789abcdef"
ROLES = {"system", "user", "assistant"}


def _error(message: str, kind: str, param: str | None = None,
           code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class FakeOpenAI(FakeServer):
    def __init__(self, reply: Callable[[list[dict[str, str]]], str], *, key: str | None = KEY,
                 model: str = "fake-gpt", delay: float = 0.0) -> None:
        super().__init__()
        self.reply = reply
        self.key = key
        self.model = model
        self.delay = delay
        #: the JSON bodies of the accepted chat completion requests
        self.bodies: list[dict[str, Any]] = []

    def answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(h.path).path
        _, fault = self.received(path, "")
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if self.delay:
            time.sleep(self.delay)
        if fault is not None:
            self.send(h, fault.status, fault.body if fault.body is not None else json.dumps(
                _error(f"fault {fault.status}", "server_error")).encode())
            return
        if method != "POST" or path != "/v1/chat/completions":
            self.send(h, 404, json.dumps(_error(f"Invalid URL ({method} {path})",
                                                "invalid_request_error")).encode())
            return
        if self.key is not None and h.headers.get("Authorization") != f"Bearer {self.key}":
            self.send(h, 401, json.dumps(_error("Incorrect API key provided.",
                                                "invalid_request_error",
                                                code="invalid_api_key")).encode())
            return
        status, body = self.complete(raw, h.headers.get("Content-Type", ""))
        self.send(h, status, json.dumps(body).encode())

    def complete(self, raw: bytes, ctype: str) -> tuple[int, dict[str, Any]]:
        if not ctype.startswith("application/json"):
            return 400, _error("Content-Type must be application/json", "invalid_request_error")
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _error("We could not parse the JSON body of your request.",
                               "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return 400, _error("you must provide a model parameter", "invalid_request_error",
                               "model")
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(
                isinstance(m, dict) and m.get("role") in ROLES
                and isinstance(m.get("content"), str) for m in msgs):
            return 400, _error("'messages' must be a non-empty array of {role, content}",
                               "invalid_request_error", "messages")
        if body.get("stream"):
            return 400, _error("this fake serves no streams", "invalid_request_error", "stream")
        for name, kind in (("temperature", (int, float)), ("max_tokens", int)):
            if name in body and not isinstance(body[name], kind):
                return 400, _error(f"invalid type for '{name}'", "invalid_request_error", name)
        self.bodies.append(body)
        text = self.reply(msgs)
        prompt = sum(len(m["content"].split()) for m in msgs)
        return 200, {
            "id": f"chatcmpl-{len(self.bodies):06d}", "object": "chat.completion",
            "created": int(time.time()), "model": self.model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                      "total_tokens": prompt + len(text.split())}}
