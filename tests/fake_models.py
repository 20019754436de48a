"""Fake model servers that the real agent CLIs talk to in the tests: Anthropic's Messages API
(Claude Code), OpenAI's Responses API (Codex) and Gemini's streamGenerateContent (gemini-cli).

One ``ThreadingHTTPServer`` answers all three from a ``Script``: for each prompt, the model
responses of its turn in order (the first answers the prompt, each later one the tool results
of the one before). A response is a list of blocks, ``{"text": …}``, ``{"thinking": …}`` or
``{"tool": NAME, "args": {…}}``, streamed over SSE one word at a time, ``word_delay`` apart,
as the real services stream tokens. Which response a request asks for is read from the
request itself (the prompt in its last user message, and how many tool results follow it),
so the CLIs' side requests (titles, quota checks, routing) and their retries cannot shift
the script; a request for no prompt of the script gets a short fixed answer.

A response may wait before its first byte: ``"delay"`` seconds of thinking time, and, with
``"after_speech": true``, until ``Script.speaking`` is set by whoever hears the speech (at
most ``SPEECH_WAIT`` seconds), so that a test of speech during a turn depends on an order of
events, not on how busy the machine is.

Two faults of Gemini's, per response: ``{"cut": N}`` ends the first attempt after N words
without a finish reason (gemini-cli retries the request), ``{"status": 400, "error": …}``
answers with an HTTP error instead.

``sent`` records, for every sentence of a text block, the ``perf_counter`` time at which its
last word was written (CLOCK_MONOTONIC on Linux, one clock for every process, as the stats
records of streamtts are), where ``bench/latency_routes.py`` starts its clock.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIDE_ANSWER = "OK."
SPEECH_WAIT = 60.0  # seconds an ``after_speech`` response waits for speech at most
# A sentence of a fake reply ends with its word; the CLIs' own splitting is not involved.
SENTENCE_END = re.compile(r"[.!?]$")


@dataclass
class Script:
    """What the fake model answers: ``turns[prompt]`` is that prompt's responses in order."""

    turns: dict[str, list[dict[str, Any]]]
    word_delay: float = 0.02
    sent: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[tuple[str, int], int] = field(default_factory=dict)
    speaking: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def response(self, prompt: str | None, step: int) -> tuple[dict[str, Any], int]:
        """The response for ``step`` of ``prompt``'s turn and which attempt at it this is."""
        if prompt is None or step >= len(self.turns[prompt]):
            return {"blocks": [{"text": SIDE_ANSWER}]}, 1
        with self.lock:
            attempt = self.attempts[prompt, step] = self.attempts.get((prompt, step), 0) + 1
        return self.turns[prompt][step], attempt

    def begin(self, response: dict[str, Any]) -> None:
        """Wait for speech if asked, then the response's thinking time, before its first byte."""
        if response.get("after_speech"):
            self.speaking.wait(SPEECH_WAIT)
        time.sleep(response.get("delay", 0.0))

    def words(self, text: str) -> list[str]:
        """``text`` as the chunks it streams in: each word with the space before it."""
        pieces = re.findall(r"\s*\S+", text)
        return pieces or [text]

    def mark(self, api: str, word: str, spoken: list[str]) -> None:
        """Record the time a sentence's last word went out (``spoken`` is the block so far)."""
        spoken.append(word)
        if SENTENCE_END.search(word):
            sentence = "".join(spoken).strip()
            spoken.clear()
            with self.lock:
                self.sent.append({"api": api, "text": sentence, "t": time.perf_counter()})


def prompt_and_step(
    script: Script, messages: list[tuple[str, list[str], bool]]
) -> tuple[str | None, int]:
    """Which prompt of ``script`` a conversation is on, and how many tool results follow it.

    ``messages`` are (role, texts, carries_tool_result) in order, whatever the API.
    """
    for index in range(len(messages) - 1, -1, -1):
        role, texts, _ = messages[index]
        prompt = next((t.strip() for t in texts if t.strip() in script.turns), None)
        if role == "user" and prompt is not None:
            results = sum(1 for r, _, tool in messages[index + 1 :] if r == "user" and tool)
            return prompt, results
    return None, 0


class Handler(BaseHTTPRequestHandler):
    """Routes by path: ``/v1/messages``, ``/v1/responses``, ``…:streamGenerateContent``."""

    server: FakeModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the CLIs' requests are not the test's output."""

    def do_HEAD(self) -> None:
        self._reply(200, b"")

    def do_GET(self) -> None:
        # Codex lists models; Claude Code asks for its account. Nothing of it matters here.
        self._reply(200, json.dumps({"data": [], "models": []}).encode())

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        path = self.path.split("?")[0]
        if path.endswith("/messages"):
            self._anthropic(body)
        elif path.endswith("/responses"):
            self._openai(body)
        elif ":streamGenerateContent" in path:
            self._gemini(body, stream=True)
        elif ":generateContent" in path:
            self._gemini(body, stream=False)
        elif ":countTokens" in path:
            self._reply(200, b'{"totalTokens": 10}')
        else:
            self._reply(404, b'{"error": {"message": "not here"}}')

    # -- plumbing ------------------------------------------------------------------------

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, data: dict[str, Any], *, name: str | None = None) -> None:
        head = f"event: {name}\n" if name else ""
        self.wfile.write(f"{head}data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _stream_words(self, api: str, text: str, send, *, spoken: bool, limit: int | None):
        """Send ``text`` word by word through ``send(word)``; False if ``limit`` cut it."""
        script = self.server.script
        said: list[str] = []
        for count, word in enumerate(script.words(text)):
            if limit is not None and count >= limit:
                return False
            time.sleep(script.word_delay)
            send(word)
            if spoken:
                script.mark(api, word, said)
        return True

    # -- Anthropic Messages (Claude Code) ------------------------------------------------

    def _anthropic(self, body: dict[str, Any]) -> None:
        messages = []
        for message in body.get("messages", []):
            content = message["content"]
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            texts = [b.get("text", "") for b in blocks if b.get("type") == "text"]
            tool = any(b.get("type") == "tool_result" for b in blocks)
            messages.append((message["role"], texts, tool))
        script = self.server.script
        response, _ = script.response(*prompt_and_step(script, messages))
        blocks = response["blocks"]
        model = body.get("model", "claude-fake")
        if not body.get("stream"):
            content = [{"type": "text", "text": b["text"]} for b in blocks if "text" in b]
            reply = {"id": "msg_side", "type": "message", "role": "assistant", "model": model}
            reply |= {"content": content, "stop_reason": "end_turn", "stop_sequence": None}
            reply["usage"] = {"input_tokens": 10, "output_tokens": 10}
            self._reply(200, json.dumps(reply).encode())
            return
        script.begin(response)
        self._start_sse()
        message = {"id": f"msg_{time.monotonic_ns()}", "type": "message", "role": "assistant"}
        message |= {"model": model, "content": [], "stop_reason": None, "stop_sequence": None}
        message["usage"] = {"input_tokens": 10, "output_tokens": 1}
        self._event({"type": "message_start", "message": message}, name="message_start")
        stop = "end_turn"
        for index, block in enumerate(blocks):
            kind = "tool_use" if "tool" in block else "thinking" if "thinking" in block else "text"
            if kind == "tool_use":
                stop = kind
                start = {"type": kind, "id": f"toolu_{index}_{time.monotonic_ns()}"}
                start |= {"name": block["tool"], "input": {}}
                after = [{"type": "input_json_delta", "partial_json": json.dumps(block["args"])}]
            elif kind == "thinking":
                start = {"type": kind, "thinking": "", "signature": ""}
                after = [{"type": "signature_delta", "signature": "ZmFrZQ=="}]
            else:
                start, after = {"type": kind, "text": ""}, []
            event = {"type": "content_block_start", "index": index, "content_block": start}
            self._event(event, name="content_block_start")

            def send(word: str, index: int = index, kind: str = kind) -> None:
                delta = {"type": f"{kind}_delta", kind: word}
                event = {"type": "content_block_delta", "index": index, "delta": delta}
                self._event(event, name="content_block_delta")

            if kind != "tool_use":
                self._stream_words(
                    "anthropic", block[kind], send, spoken=kind == "text", limit=None
                )
            for delta in after:
                event = {"type": "content_block_delta", "index": index, "delta": delta}
                self._event(event, name="content_block_delta")
            self._event({"type": "content_block_stop", "index": index}, name="content_block_stop")
        delta = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}}
        delta["usage"] = {"output_tokens": 20}
        self._event(delta, name="message_delta")
        self._event({"type": "message_stop"}, name="message_stop")

    # -- OpenAI Responses (Codex) --------------------------------------------------------

    def _openai(self, body: dict[str, Any]) -> None:
        messages = []
        for item in body.get("input", []):
            if item.get("type") == "function_call_output":
                messages.append(("user", [], True))
            elif item.get("type", "message") == "message":
                content = item.get("content", [])
                parts = [{"text": content}] if isinstance(content, str) else content
                messages.append((item.get("role", ""), [p.get("text", "") for p in parts], False))
        script = self.server.script
        response, _ = script.response(*prompt_and_step(script, messages))
        script.begin(response)
        self._start_sse()
        rid = f"resp_{time.monotonic_ns()}"
        created = {"id": rid, "object": "response", "status": "in_progress", "output": []}
        self._event({"type": "response.created", "response": created}, name="response.created")
        for index, block in enumerate(response["blocks"]):
            item_id = f"item_{index}_{rid}"
            if "tool" in block:
                item = {"type": "function_call", "id": item_id, "call_id": f"call_{item_id}"}
                item |= {"name": block["tool"], "arguments": json.dumps(block["args"])}
                item["status"] = "completed"
                added = {"type": "response.output_item.added", "output_index": index}
                self._event(added | {"item": item}, name="response.output_item.added")
                done = {"type": "response.output_item.done", "output_index": index, "item": item}
                self._event(done, name="response.output_item.done")
                continue
            if "thinking" in block:
                item = {"type": "reasoning", "id": item_id, "summary": []}
                delta_type = "response.reasoning_summary_text.delta"
                spoken = False
            else:
                item = {"type": "message", "id": item_id, "role": "assistant", "content": []}
                item["status"] = "in_progress"
                delta_type = "response.output_text.delta"
                spoken = True
            added = {"type": "response.output_item.added", "output_index": index, "item": item}
            self._event(added, name="response.output_item.added")

            def send(word: str, index: int = index, item_id: str = item_id, kind=delta_type):
                delta = {"type": kind, "item_id": item_id, "output_index": index}
                delta |= {"content_index": 0, "summary_index": 0, "delta": word}
                self._event(delta, name=kind)

            text = block.get("text", block.get("thinking", ""))
            self._stream_words("openai", text, send, spoken=spoken, limit=None)
            if spoken:
                item = item | {"status": "completed"}
                item["content"] = [{"type": "output_text", "text": text, "annotations": []}]
            else:
                item = item | {"summary": [{"type": "summary_text", "text": text}]}
            done = {"type": "response.output_item.done", "output_index": index, "item": item}
            self._event(done, name="response.output_item.done")
        usage = {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}
        usage |= {"input_tokens_details": {"cached_tokens": 0}}
        usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
        completed = {"id": rid, "object": "response", "status": "completed", "usage": usage}
        self._event(
            {"type": "response.completed", "response": completed}, name="response.completed"
        )

    # -- Gemini streamGenerateContent (gemini-cli) ---------------------------------------

    def _gemini(self, body: dict[str, Any], *, stream: bool) -> None:
        messages = []
        for content in body.get("contents", []):
            parts = content.get("parts", [])
            texts = [p["text"] for p in parts if "text" in p]
            tool = any("functionResponse" in p for p in parts)
            messages.append((content.get("role", "user"), texts, tool))
        script = self.server.script
        response, attempt = script.response(*prompt_and_step(script, messages))
        script.begin(response)
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 20, "totalTokenCount": 30}
        if "status" in response:
            error = {"code": response["status"], "message": response["error"]}
            error["status"] = "INVALID_ARGUMENT"
            self._reply(response["status"], json.dumps({"error": error}).encode())
            return
        if not stream:
            text = " ".join(b["text"] for b in response["blocks"] if "text" in b)
            candidate = {"content": {"role": "model", "parts": [{"text": text}]}}
            candidate |= {"finishReason": "STOP", "index": 0}
            reply = {"candidates": [candidate], "usageMetadata": usage}
            self._reply(200, json.dumps(reply).encode())
            return
        self._start_sse()
        limit = response.get("cut") if attempt == 1 else None

        def chunk(part: dict[str, Any], finish: str | None = None) -> None:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            self._event({"candidates": [candidate], "usageMetadata": usage})

        for block in response["blocks"]:
            if "tool" in block:
                chunk({"functionCall": {"name": block["tool"], "args": block["args"]}})
                continue
            thought = "thinking" in block
            text = block.get("text", block.get("thinking", ""))

            def send(word: str, thought: bool = thought) -> None:
                chunk({"text": word, "thought": True} if thought else {"text": word})

            complete = self._stream_words("gemini", text, send, spoken=not thought, limit=limit)
            if not complete:
                return  # the stream ends with no finish reason: gemini-cli retries
            if limit is not None:
                limit -= len(script.words(text))
        chunk({"text": ""}, finish="STOP")


class FakeModelServer(ThreadingHTTPServer):
    """All three APIs at ``http://127.0.0.1:<port>``, answering from ``script``."""

    daemon_threads = True

    def __init__(self, script: Script, port: int = 0) -> None:
        self.script = script
        super().__init__(("127.0.0.1", port), Handler)

    def start(self) -> str:
        """Serve on a thread; the base URL."""
        threading.Thread(target=self.serve_forever, name="fake-models", daemon=True).start()
        return f"http://127.0.0.1:{self.server_address[1]}"
