"""Local HTTP receivers for notifications: Slack (incoming webhook and Web API), Microsoft Teams,
Jira (REST v3 and v2 comments), ServiceNow (Table API work notes), PagerDuty (incident notes) and
GitHub (issues), on one real ``ThreadingHTTPServer`` on 127.0.0.1, under a path prefix each.

Each receiver CHECKS the shape its vendor documents (auth headers, content types, required
fields, Block Kit / Adaptive Card / ADF structure) and answers as the vendor does; a request that
breaks a rule is answered with the vendor's error and noted in :attr:`Receivers.problems`. Every
accepted post is kept (:attr:`Receivers.posts`), so a test can count what took effect.

Faults: :meth:`fail` (a status for the next N requests matching a path), :meth:`down` / :meth:`up`
(the port closed: connection refused, then open again on the same port) and :meth:`cut` (the post
takes effect, then the connection is closed before any answer: an ambiguous attempt).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

SLACK_TOKEN = "xoxb-test-token"
JIRA_EMAIL, JIRA_TOKEN = "bot@acme.example", "jira-api-token"
SN_USER, SN_PASSWORD = "shipwise", "sn-password"
PD_TOKEN, PD_FROM = "pd-token", "oncall-bot@acme.example"
GH_TOKEN = "ghp_test"
SLACK_HOOK = "/slack/hooks/T000/B000/XXXXXXXX"
TEAMS_HOOK = "/teams/webhookb2/abc@def/IncomingWebhook/123/456"


@dataclass
class Post:
    service: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class _Fault:
    pattern: str
    status: int
    times: int


@dataclass
class State:
    posts: list[Post] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Jira issue key -> comments; ServiceNow number -> sys_id; PagerDuty incident -> notes
    jira: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    servicenow: dict[str, str] = field(default_factory=dict)
    pagerduty: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    slack_ts: dict[str, list[str]] = field(default_factory=dict)
    slack_messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: ServiceNow work notes: (sys_id, text)
    journal: list[tuple[str, str]] = field(default_factory=list)


class Receivers:
    """All the receivers on one port; ``with`` starts and stops them."""

    def __init__(self, *, jira_issues: tuple[str, ...] = (), servicenow: tuple[str, ...] = (),
                 pagerduty: tuple[str, ...] = (), repos: tuple[str, ...] = ()) -> None:
        self.state = State()
        for key in jira_issues:
            self.state.jira[key] = []
        for i, number in enumerate(servicenow):
            self.state.servicenow[number] = f"{i:032x}"
        for inc in pagerduty:
            self.state.pagerduty[inc] = []
        for repo in repos:
            self.state.issues[repo] = []
        self.lock = threading.Lock()
        self.faults: list[_Fault] = []
        self.cuts: list[_Fault] = []
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._seq = 0
        #: the seconds part of Slack's ts of messages posted here
        self.slack_epoch = int(time.time())

    # -- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def posts(self) -> list[Post]:
        with self.lock:
            return list(self.state.posts)

    @property
    def problems(self) -> list[str]:
        with self.lock:
            return list(self.state.problems)

    def fail(self, pattern: str, status: int = 503, *, times: int = 1) -> None:
        with self.lock:
            self.faults.append(_Fault(pattern, status, times))

    def cut(self, pattern: str, *, times: int = 1) -> None:
        """The next ``times`` posts matching ``pattern`` take effect, then get no answer."""
        with self.lock:
            self.cuts.append(_Fault(pattern, 0, times))

    def up(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        """Stop listening: every request is refused until :meth:`up`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refused(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) != 0

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def effects(self, marker: str) -> int:
        """How many accepted posts carry ``marker`` (a row that took effect twice: 2)."""
        return sum(1 for p in self.posts if marker in json.dumps(p.body))

    # -- answering -----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests += 1
            fault = next((f for f in self.faults if f.times > 0 and re.search(f.pattern, path)),
                         None)
            if fault is not None:
                fault.times -= 1
            cut = next((f for f in self.cuts if f.times > 0 and re.search(f.pattern, path)),
                       None) if method != "GET" else None
            if cut is not None:
                cut.times -= 1
        if fault is not None:
            self._send(h, fault.status, {"message": f"fault {fault.status}"})
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(h, 400, {"message": "body is not JSON"})
            return
        with self.lock:
            status, answer, ctype = self._route(h, method, path, query, body)
        if cut is not None:  # it took effect; the answer never arrives
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(h, status, answer, ctype)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, answer: Any,
              ctype: str = "application/json") -> None:
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _problem(self, text: str) -> None:
        self.state.problems.append(text)

    def _route(self, h: BaseHTTPRequestHandler, method: str, path: str, q: dict[str, list[str]],
               body: Any) -> tuple[int, Any, str]:
        hd = {k.lower(): v for k, v in h.headers.items()}
        if method != "GET" and "application/json" not in hd.get("content-type", ""):
            self._problem(f"{path}: Content-Type {hd.get('content-type')!r}")
            return 415, {"message": "Content-Type must be application/json"}, "application/json"
        for prefix, fn in (("/slack/api/", self._slack_api), ("/slack/", self._slack_hook),
                           ("/teams/", self._teams), ("/jira/", self._jira),
                           ("/sn/", self._servicenow), ("/pd/", self._pagerduty),
                           ("/gh/", self._github)):
            if path.startswith(prefix):
                status, answer, *ctype = fn(method, path, q, body, hd)
                return status, answer, ctype[0] if ctype else "application/json"
        return 404, {"message": "no such receiver"}, "application/json"

    # Slack ---------------------------------------------------------------------------------------

    def _blocks(self, where: str, blocks: Any) -> bool:
        ok = isinstance(blocks, list) and 0 < len(blocks) <= 50
        for b in blocks if isinstance(blocks, list) else []:
            t = b.get("type")
            if t == "header":
                ok &= b["text"]["type"] == "plain_text" and 0 < len(b["text"]["text"]) <= 150
            elif t == "section":
                ok &= b["text"]["type"] in ("mrkdwn", "plain_text") and \
                    0 < len(b["text"]["text"]) <= 3000
            elif t == "context":
                ok &= 0 < len(b["elements"]) <= 10 and all(
                    e["type"] in ("mrkdwn", "plain_text", "image") for e in b["elements"])
            else:
                ok = False
        if not ok:
            self._problem(f"{where}: invalid blocks")
        return ok

    def _slack_hook(self, method: str, path: str, q: Any, body: Any,
                    hd: dict[str, str]) -> tuple[int, Any, str]:
        if path != SLACK_HOOK:
            return 404, "no_service", "text/html"
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            self._problem("slack webhook: no text")
            return 400, "no_text", "text/html"
        if "blocks" in body and not self._blocks("slack webhook", body["blocks"]):
            return 400, "invalid_blocks", "text/html"
        self.state.posts.append(Post("slack_webhook", path, body, hd))
        return 200, "ok", "text/html"

    def _slack_api(self, method: str, path: str, q: Any, body: Any,
                   hd: dict[str, str]) -> tuple[int, Any]:
        if hd.get("authorization") != f"Bearer {SLACK_TOKEN}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if method == "GET" and path in ("/slack/api/conversations.history",
                                        "/slack/api/conversations.replies"):
            msgs = self.state.slack_messages.get((q.get("channel") or [""])[0])
            if msgs is None:
                return 200, {"ok": False, "error": "channel_not_found"}
            if path.endswith("replies"):
                ts = (q.get("ts") or [""])[0]
                msgs = [m for m in msgs if m["ts"] == ts or m.get("thread_ts") == ts]
            else:
                oldest = float((q.get("oldest") or ["0"])[0])
                msgs = [m for m in msgs if float(m["ts"]) >= oldest and "thread_ts" not in m]
            return 200, {"ok": True, "messages": list(reversed(msgs)), "has_more": False}
        if path != "/slack/api/chat.postMessage" or method != "POST":
            return 404, {"ok": False, "error": "unknown_method"}
        channel = body.get("channel") if isinstance(body, dict) else None
        if not channel:
            self._problem("chat.postMessage: no channel")
            return 200, {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}
        if "blocks" in body and not self._blocks("chat.postMessage", body["blocks"]):
            return 200, {"ok": False, "error": "invalid_blocks"}
        thread = body.get("thread_ts")
        known = self.state.slack_ts.setdefault(channel, [])
        if thread is not None and thread not in known:
            self._problem(f"chat.postMessage: thread_ts {thread} is no message")
            return 200, {"ok": False, "error": "thread_not_found"}
        self._seq += 1
        ts = f"{self.slack_epoch}.{self._seq:06d}"
        known.append(ts)
        self.state.posts.append(Post("slack_api", path, body, hd))
        msg = {"type": "message", "text": body.get("text"), "ts": ts, "bot_id": "B0",
               "blocks": body.get("blocks")}
        if thread:
            msg["thread_ts"] = thread
        self.state.slack_messages.setdefault(channel, []).append(msg)
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": msg}

    # Teams ---------------------------------------------------------------------------------------

    def _teams(self, method: str, path: str, q: Any, body: Any,
               hd: dict[str, str]) -> tuple[int, Any, str]:
        if path != TEAMS_HOOK:
            return 404, "Not found", "text/plain"
        try:
            assert body["type"] == "message"
            (att,) = body["attachments"]
            assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
            card = att["content"]
            assert card["type"] == "AdaptiveCard" and card["version"] in ("1.2", "1.3", "1.4",
                                                                         "1.5")
            assert card["$schema"].startswith("http://adaptivecards.io/schemas/")
            for el in card["body"]:
                assert el["type"] in ("TextBlock", "FactSet", "Container", "ColumnSet")
                if el["type"] == "TextBlock":
                    assert isinstance(el["text"], str) and el["text"]
                if el["type"] == "FactSet":
                    assert all(isinstance(f["title"], str) and isinstance(f["value"], str)
                               for f in el["facts"])
            for a in card.get("actions", []):
                assert a["type"] == "Action.OpenUrl" and a["url"].startswith("http")
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            self._problem(f"teams: not an Adaptive Card message ({exc!r})")
            return 400, "Bad payload received by generic incoming webhook.", "text/plain"
        self.state.posts.append(Post("teams", path, body, hd))
        return 200, "1", "text/plain"

    # Jira ----------------------------------------------------------------------------------------

    def _adf(self, node: Any) -> bool:
        t = node.get("type") if isinstance(node, dict) else None
        if t == "text":
            return isinstance(node.get("text"), str) and node["text"] != "" and all(
                m.get("type") in ("strong", "em", "code", "link") for m in node.get("marks", []))
        if t == "heading" and not 1 <= int((node.get("attrs") or {}).get("level", 0)) <= 6:
            return False
        if t not in ("doc", "paragraph", "heading", "bulletList", "orderedList", "listItem",
                     "codeBlock", "rule"):
            return False
        if t in ("bulletList", "orderedList") and any(
                c.get("type") != "listItem" for c in node.get("content", [])):
            return False
        return all(self._adf(c) for c in node.get("content", []))

    def _jira(self, method: str, path: str, q: Any, body: Any,
              hd: dict[str, str]) -> tuple[int, Any]:
        m = re.fullmatch(r"/jira/rest/api/([23])/issue/([A-Z][A-Z0-9]*-\d+)/comment", path)
        if not m:
            return 404, {"errorMessages": ["not found"], "errors": {}}
        version, key = m.groups()
        basic = "Basic " + base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
        if hd.get("authorization") not in (basic, f"Bearer {JIRA_TOKEN}"):
            return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}
        if key not in self.state.jira:
            return 404, {"errorMessages": [
                "Issue does not exist or you do not have permission to see it."], "errors": {}}
        comments = self.state.jira[key]
        if method == "GET":
            return 200, {"startAt": 0, "maxResults": 100, "total": len(comments),
                         "comments": comments}
        text = body.get("body") if isinstance(body, dict) else None
        ok = (isinstance(text, str) and text) if version == "2" else (
            isinstance(text, dict) and text.get("type") == "doc" and text.get("version") == 1
            and self._adf(text))
        if not ok:
            self._problem(f"jira v{version}: comment body is not "
                          + ("a string" if version == "2" else "an ADF document"))
            return 400, {"errorMessages": [], "errors": {"comment": "Comment body is not valid"}}
        self._seq += 1
        comment = {"id": str(10000 + self._seq), "body": text, "created": "2026-12-06T20:00:00.000+0000"}
        comments.append(comment)
        self.state.posts.append(Post("jira", path, body, hd))
        return 201, comment

    # ServiceNow ----------------------------------------------------------------------------------

    def _servicenow(self, method: str, path: str, q: dict[str, list[str]], body: Any,
                    hd: dict[str, str]) -> tuple[int, Any]:
        basic = "Basic " + base64.b64encode(f"{SN_USER}:{SN_PASSWORD}".encode()).decode()
        if hd.get("authorization") != basic:
            return 401, {"error": {"message": "User Not Authenticated", "detail": ""},
                         "status": "failure"}
        if method == "GET" and path == "/sn/api/now/table/incident":
            query = (q.get("sysparm_query") or [""])[0]
            number = query.removeprefix("number=")
            sys_id = self.state.servicenow.get(number)
            return 200, {"result": [{"sys_id": sys_id, "number": number}] if sys_id else []}
        if method == "GET" and path == "/sn/api/now/table/sys_journal_field":
            query = (q.get("sysparm_query") or [""])[0]
            m = re.fullmatch(r"element_id=([0-9a-f]{32})\^element=work_notes\^valueLIKE(.+)",
                             query)
            if not m:
                self._problem(f"servicenow: journal query {query!r}")
                return 400, {"error": {"message": "Invalid query"}, "status": "failure"}
            hits = [{"sys_id": f"j{i:031x}"} for i, (sid, text) in enumerate(self.state.journal)
                    if sid == m.group(1) and m.group(2) in text]
            return 200, {"result": hits[:1]}
        m = re.fullmatch(r"/sn/api/now/table/incident/([0-9a-f]{32})", path)
        if method == "PATCH" and m:
            if m.group(1) not in self.state.servicenow.values():
                return 404, {"error": {"message": "No Record found", "detail": ""},
                             "status": "failure"}
            if not isinstance(body, dict) or not isinstance(body.get("work_notes"), str) \
                    or set(body) - {"work_notes", "comments"}:
                self._problem("servicenow: PATCH body is not {work_notes: text}")
                return 400, {"error": {"message": "Invalid body"}, "status": "failure"}
            self.state.journal.append((m.group(1), body["work_notes"]))
            self.state.posts.append(Post("servicenow", path, body, hd))
            return 200, {"result": {"sys_id": m.group(1), "work_notes": ""}}
        return 400, {"error": {"message": "Requested URI does not represent any resource"}}

    # PagerDuty -----------------------------------------------------------------------------------

    def _pagerduty(self, method: str, path: str, q: Any, body: Any,
                   hd: dict[str, str]) -> tuple[int, Any]:
        if hd.get("authorization") != f"Token token={PD_TOKEN}":
            return 401, {"error": {"message": "Unauthorized", "code": 2006}}
        if hd.get("accept") != "application/vnd.pagerduty+json;version=2":
            self._problem("pagerduty: Accept is not application/vnd.pagerduty+json;version=2")
        m = re.fullmatch(r"/pd/incidents/([A-Z0-9]+)/notes", path)
        if not m or m.group(1) not in self.state.pagerduty:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        notes = self.state.pagerduty[m.group(1)]
        if method == "GET":
            return 200, {"notes": notes}
        if hd.get("from") != PD_FROM:
            self._problem("pagerduty: no From header of a user's email")
            return 400, {"error": {"message": "Invalid Input Provided", "code": 2001,
                                   "errors": ["Requester User Not Found"]}}
        content = (body.get("note") or {}).get("content") if isinstance(body, dict) else None
        if not isinstance(content, str) or not content or len(content) > 25_000:
            self._problem("pagerduty: body is not {note: {content: text}}")
            return 400, {"error": {"message": "Invalid Input Provided", "code": 2001}}
        self._seq += 1
        note = {"id": f"PN{self._seq:05d}", "content": content,
                "user": {"type": "user_reference", "summary": PD_FROM},
                "created_at": "2026-12-06T20:00:00Z"}
        notes.append(note)
        self.state.posts.append(Post("pagerduty", path, body, hd))
        return 201, {"note": note}

    # GitHub --------------------------------------------------------------------------------------

    def _github(self, method: str, path: str, q: dict[str, list[str]], body: Any,
                hd: dict[str, str]) -> tuple[int, Any]:
        if hd.get("authorization") != f"Bearer {GH_TOKEN}":
            return 401, {"message": "Bad credentials"}
        if hd.get("accept") != "application/vnd.github+json":
            self._problem("github: Accept is not application/vnd.github+json")
        c = re.fullmatch(r"/gh/repos/([\w.-]+/[\w.-]+)/issues/(\d+)/comments", path)
        if c:
            repo_issues = self.state.issues.get(c.group(1)) or []
            issue = next((i for i in repo_issues if i["number"] == int(c.group(2))), None)
            if issue is None:
                return 404, {"message": "Not Found"}
            if method == "GET":
                return 200, issue.setdefault("comments_list", [])
            if not isinstance(body, dict) or not isinstance(body.get("body"), str) \
                    or not body["body"] or set(body) != {"body"}:
                self._problem("github: comment is not {body: text}")
                return 422, {"message": "Validation Failed", "errors": []}
            self._seq += 1
            comment = {"id": self._seq, "body": body["body"],
                       "html_url": f"{issue['html_url']}#issuecomment-{self._seq}"}
            issue.setdefault("comments_list", []).append(comment)
            self.state.posts.append(Post("github", path, body, hd))
            return 201, comment
        m = re.fullmatch(r"/gh/repos/([\w.-]+/[\w.-]+)/issues", path)
        if not m or m.group(1) not in self.state.issues:
            return 404, {"message": "Not Found"}
        issues = self.state.issues[m.group(1)]
        if method == "GET":
            return 200, issues
        if not isinstance(body, dict) or not isinstance(body.get("title"), str) \
                or not body["title"] or not isinstance(body.get("body"), str) \
                or not all(isinstance(x, str) for x in body.get("labels", [])):
            self._problem("github: issue is not {title, body, labels: [str]}")
            return 422, {"message": "Validation Failed", "errors": []}
        number = len(issues) + 1
        issue = {"number": number, "title": body["title"], "body": body["body"],
                 "labels": [{"name": x} for x in body.get("labels", [])],
                 "html_url": f"https://github.com/{m.group(1)}/issues/{number}", "state": "open"}
        issues.append(issue)
        self.state.posts.append(Post("github", path, body, hd))
        return 201, issue
