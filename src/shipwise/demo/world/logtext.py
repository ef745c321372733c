"""Log records and the text of the world's errors: Python tracebacks and JVM stack traces.

Generic failure lines (a timeout calling a dependency, a dependency answering 5xx, a service
shedding load) live here; the faults add their own mechanism-specific lines (see ``faults``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipwise.demo.world.events import iso
from shipwise.demo.world.topology import REGION

Frame = tuple[str, int, str, str]  # python: (file, line, function, code)
JFrame = tuple[str, str, int]  # jvm: (class.method, file, line)


@dataclass
class LogLine:
    time: float
    entity: str
    level: str
    message: str
    instance: str | None = None
    trace_id: str | None = None
    exception: dict[str, str] | None = None
    pod: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": iso(self.time), "entity": self.entity}
        if self.instance:
            out["instance"] = self.instance
        if self.pod:
            out["pod"] = self.pod
        out["level"] = self.level
        out["message"] = self.message
        if self.trace_id:
            out["trace_id"] = self.trace_id
        if self.exception:
            out["exception"] = self.exception
        return out


def py_exception(qualname: str, message: str, frames: list[Frame]) -> dict[str, str]:
    lines = ["Traceback (most recent call last):"]
    for file, line, func, code in frames:
        lines += [f'  File "{file}", line {line}, in {func}', f"    {code}"]
    lines.append(f"{qualname}: {message}")
    return {"type": qualname.rsplit(".", 1)[-1], "message": message, "stack": "\n".join(lines)}


def jvm_exception(qualname: str, message: str, frames: list[JFrame],
                  cause: tuple[str, str, list[JFrame]] | None = None) -> dict[str, str]:
    lines = [f"{qualname}: {message}"]
    lines += [f"\tat {where}({file}:{line})" for where, file, line in frames]
    if cause is not None:
        cq, cm, cf = cause
        lines.append(f"Caused by: {cq}: {cm}")
        lines += [f"\tat {where}({file}:{line})" for where, file, line in cf]
        lines.append(f"\t... {len(frames)} more")
    return {"type": qualname.rsplit(".", 1)[-1].split("$")[-1], "message": message,
            "stack": "\n".join(lines)}


def pkg(service: str) -> str:
    return service.replace("-", "_")


def jpkg(service: str) -> str:
    return "com.shop." + service.replace("-", "")


def service_url(service: str) -> str:
    return f"http://{service}.shop.svc.cluster.local:8080"


_HANDLERS = {"auth": "verify_token", "catalog": "get_item", "search": "search",
             "cart": "getCart", "checkout": "placeOrder", "payments": "authorise",
             "inventory": "reserve", "recommendations": "for_customer",
             "orders-worker": "handle_order", "notifications": "send_order_confirmation"}


def handler(service: str) -> str:
    return _HANDLERS.get(service, "handle")


def _server_frames_py(service: str) -> list[Frame]:
    p = pkg(service)
    return [("/app/.venv/lib/python3.12/site-packages/starlette/routing.py", 74, "app",
             "response = await func(request)"),
            (f"/app/{p}/handlers.py", 61, handler(service),
             f"result = await service.{handler(service)}(request)")]


def _server_frames_jvm(service: str) -> list[JFrame]:
    j = jpkg(service)
    cls = service.replace("-", " ").title().replace(" ", "")
    return [(f"{j}.web.{cls}Controller.{handler(service)}", f"{cls}Controller.kt", 48),
            ("org.springframework.web.servlet.FrameworkServlet.service", "FrameworkServlet.java",
             885)]


def timeout_error(caller: str, runtime: str, dep: str, dep_kind: str, timeout_ms: float,
                  ) -> tuple[str, dict[str, str] | None]:
    """A call from ``caller`` to ``dep`` that gave up after ``timeout_ms``."""
    tmo = f"{timeout_ms:.0f} ms"
    if dep_kind == "table":
        op = "Query" if caller in ("recommendations", "notifications") else "GetItem"
        msg = f"DynamoDB {op} on {dep} timed out after {tmo}"
        endpoint = f"https://dynamodb.{REGION}.amazonaws.com/"
        if runtime == "python":
            exc = py_exception("botocore.exceptions.ReadTimeoutError",
                               f'Read timeout on endpoint URL: "{endpoint}" (table {dep})', [
                                   *_server_frames_py(caller),
                                   (f"/app/{pkg(caller)}/store.py", 88, "load",
                                    f'return self.table.get_item(Key={{"pk": key}})  # {dep}')])
            return msg, exc
        exc = jvm_exception("software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException",
                            f"HTTP request execution did not complete before the specified timeout "
                            f"configuration: {tmo} (table {dep})",
                            [(f"{jpkg(caller)}.store.Repository.load", "Repository.kt", 64),
                             *_server_frames_jvm(caller)])
        return msg, exc
    if dep_kind == "cache":
        host = f"{dep}.x7k2pq.ng.0001.euw1.cache.amazonaws.com:6379"
        msg = f"redis GET on {dep} timed out after {tmo}"
        if runtime == "python":
            return msg, py_exception("redis.exceptions.TimeoutError",
                                     f"Timeout reading from {host}", [
                                         *_server_frames_py(caller),
                                         (f"/app/{pkg(caller)}/cache/client.py", 44, "get",
                                          "raw = await self.redis.get(key)")])
        return msg, jvm_exception("io.lettuce.core.RedisCommandTimeoutException",
                                  f"Command timed out after {timeout_ms:.0f} millisecond(s) "
                                  f"({host})",
                                  [("io.lettuce.core.internal.ExceptionFactory.createTimeoutException",
                                    "ExceptionFactory.java", 59),
                                   (f"{jpkg(caller)}.cache.CacheClient.get", "CacheClient.kt", 38),
                                   *_server_frames_jvm(caller)])
    target = "api.acme-pay.example" if dep_kind == "external" else f"{dep}.shop.svc.cluster.local"
    msg = f"call to {dep} timed out after {tmo}"
    if runtime == "python":
        return msg, py_exception("httpx.ReadTimeout", f"timed out after {tmo} calling {dep} "
                                 f"(GET https://{target}/v1/…)", [
                                     *_server_frames_py(caller),
                                     (f"/app/{pkg(caller)}/clients/{pkg(dep)}.py", 33, "fetch",
                                      "resp = await self.http.get(path, timeout=self.timeout)")])
    if runtime == "jvm":
        return msg, jvm_exception(
            f"{jpkg(caller)}.clients.UpstreamTimeoutException",
            f"{dep} did not answer within {tmo}",
            [(f"{jpkg(caller)}.clients.{_cls(dep)}Client.call", f"{_cls(dep)}Client.kt", 57),
             *_server_frames_jvm(caller)],
            ("java.net.SocketTimeoutException", "Read timed out",
             [("java.base/sun.nio.ch.NioSocketImpl.timedRead", "NioSocketImpl.java", 288)]))
    return f"upstream {dep} timed out after {tmo} (upstream_rq_timeout)", None


def upstream_error(caller: str, runtime: str, dep: str) -> tuple[str, dict[str, str] | None]:
    """``dep`` answered 5xx to ``caller``."""
    msg = f"call to {dep} failed: 503 Service Unavailable"
    url = f"{service_url(dep)}/v1/{handler(dep)}"
    if runtime == "python":
        return msg, py_exception(
            "httpx.HTTPStatusError",
            f"Server error '503 Service Unavailable' for url '{url}'",
            [*_server_frames_py(caller),
             (f"/app/{pkg(caller)}/clients/{pkg(dep)}.py", 41, "fetch", "resp.raise_for_status()")])
    if runtime == "jvm":
        return msg, jvm_exception(
            "org.springframework.web.client.HttpServerErrorException$ServiceUnavailable",
            f'503 Service Unavailable: "{{"error":"upstream failure"}}" from POST {url}',
            [("org.springframework.web.client.DefaultResponseErrorHandler.handleError",
              "DefaultResponseErrorHandler.java", 139),
             (f"{jpkg(caller)}.clients.{_cls(dep)}Client.call", f"{_cls(dep)}Client.kt", 52),
             *_server_frames_jvm(caller)])
    return f"upstream {dep} returned 503 (route {handler(dep)})", None


def overload_error(service: str, runtime: str) -> tuple[str, dict[str, str] | None]:
    """``service`` sheds a request because it is saturated."""
    if runtime == "jvm":
        return "request rejected: worker pool exhausted", jvm_exception(
            "java.util.concurrent.RejectedExecutionException",
            "Thread pool is EXHAUSTED! Pool Size: 200 (active: 200, core: 200, max: 200), "
            "Queue: 1000/1000", [
                ("org.apache.tomcat.util.threads.ThreadPoolExecutor.execute",
                 "ThreadPoolExecutor.java", 1365),
                ("org.apache.tomcat.util.net.AbstractEndpoint.processSocket",
                 "AbstractEndpoint.java", 1275)])
    if runtime == "python":
        return "request rejected: server overloaded", py_exception(
            f"{pkg(service)}.middleware.OverloadedError",
            "admission control: 256 requests in flight (limit 256), backlog full", [
                (f"/app/{pkg(service)}/middleware.py", 29, "__call__",
                 "raise OverloadedError(self.describe())")])
    return "upstream overflow: too many pending requests (overflow)", None


def _cls(service: str) -> str:
    return service.replace("-", " ").title().replace(" ", "")
