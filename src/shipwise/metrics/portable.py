"""The portable SQL subset the metric definitions are written in, and its rendering per engine.

Every definition (the derived facts of :mod:`shipwise.metrics.facts`, the DORA, cost and flow
queries) is **one SQL text**. It may use only:

- standard SQL that DuckDB and Spark SQL read alike: CTEs (``WITH``, ``WITH RECURSIVE``), joins,
  ``CASE``, ``CAST(... AS DOUBLE | DATE | TIMESTAMP)``, ``DATE '...'`` literals, date ``+`` integer
  days and ``+ INTERVAL 1 DAY``, window frames and named windows, ``?`` parameters, ``||``,
  double-quoted identifiers;
- the functions of :data:`FUNCTIONS`, whose semantics are the same on both engines (checked by
  the equality tests, ``tests/metrics/test_spark.py``);
- the constructs of :data:`RULES`, written in their canonical (DuckDB) spelling and rendered for
  each engine by :func:`render` — the places where a blind SQL transpiler gets the answer wrong:

  ========================================  ==========================================
  canonical spelling                        Spark rendering
  ========================================  ==========================================
  ``percentile_cont(p) WITHIN GROUP``       ``percentile(x, p)``: exact, linear
  ``(ORDER BY x)``                          interpolation (never ``percentile_approx``)
  ``date_diff('second', a, b)``             ``unix_timestamp(b) - unix_timestamp(a)``:
                                            whole-second boundaries crossed, as DuckDB
  ``first_value(x IGNORE NULLS)``,          ``first_value(x) IGNORE NULLS``: Spark takes
  ``nth_value(x, n IGNORE NULLS)``          the clause after the call
  ``UNION`` inside ``WITH RECURSIVE``        ``UNION ALL`` (Spark's recursive CTEs take only
                                            that; a cycle then stops at Spark's recursion
                                            limit with an error instead of terminating)
  ========================================  ==========================================

Anything else engine-specific (``quantile_cont``, ``epoch``, ``arg_max``, ``::``, JSON
functions, ``pg_timezone_names``, …) makes :func:`check` fail, so a definition that uses it cannot
claim an engine it was not proven on: the registry's ``Metric.engines`` says where each metric is
proven (docs/spark.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

DUCKDB = "duckdb"
SPARK = "spark"
ENGINES = (DUCKDB, SPARK)

#: Functions with the same meaning on every engine (NULLs ignored by aggregates, ``greatest`` and
#: ``least`` skip NULLs, ``mode``/``min_by``/``max_by`` are exact, ``row_number`` over a total
#: order numbers alike).
FUNCTIONS = frozenset({
    "count", "sum", "min", "max", "avg", "coalesce", "cast", "greatest", "least", "lower", "ln",
    "power", "lag", "lead", "mode", "min_by", "max_by", "last_day", "row_number",
    # 1-based, counting characters, on both engines
    "substr", "length",
})
#: Constructs rendered per engine (see the module's table).
RULES = frozenset({"percentile_cont", "date_diff", "first_value", "nth_value"})
#: Spelled like a call but not one.
_KEYWORDS = frozenset({
    "in", "as", "over", "and", "or", "not", "on", "exists", "from", "join", "values", "where",
    "select", "using", "then", "else", "when", "union", "all", "distinct", "group", "by", "window",
    "rows", "between", "following", "preceding", "partition", "with", "recursive", "is", "null",
    "end", "case", "left", "right", "inner", "outer", "cross", "interval", "date", "timestamp",
    "double", "integer", "bigint", "varchar", "string", "having", "order", "within", "filter", "ignore",
    "nulls", "like", "set",
})


class PortabilityError(ValueError):
    """A definition uses SQL outside the portable subset."""


@dataclass(frozen=True)
class Dialect:
    """How one engine spells the constructs of :data:`RULES`."""

    name: str
    #: (x, p) -> an exact percentile with linear interpolation
    percentile: str
    #: (a, b) -> whole seconds from instant a to instant b
    seconds: str
    #: True: ``f(x) IGNORE NULLS``; False: ``f(x IGNORE NULLS)``
    ignore_nulls_after: bool
    #: the set operator of a recursive CTE's recursive step
    recursive_union: str


DIALECTS: dict[str, Dialect] = {
    DUCKDB: Dialect(DUCKDB, "percentile_cont({p}) WITHIN GROUP (ORDER BY {x})",
                    "date_diff('second', {a}, {b})", False, "UNION"),
    SPARK: Dialect(SPARK, "percentile({x}, {p})", "(unix_timestamp({b}) - unix_timestamp({a}))",
                   True, "UNION ALL"),
}


def seconds_between(start: str, end: str) -> str:
    """Whole seconds from instant ``start`` to instant ``end`` (canonical spelling)."""
    return f"date_diff('second', {start}, {end})"


def percentile(p: float, expr: str) -> str:
    """Exact percentile ``p`` of ``expr`` with linear interpolation (canonical spelling)."""
    return f"percentile_cont({p}) WITHIN GROUP (ORDER BY {expr})"


# -- scanning -------------------------------------------------------------------------------

def _skip(sql: str, i: int) -> int:
    """The index after a string literal, quoted identifier or comment starting at ``i`` (``i``
    itself when none starts there)."""
    c = sql[i]
    if c in "'\"":
        j = i + 1
        while j < len(sql):
            if sql[j] == c:
                if j + 1 < len(sql) and sql[j + 1] == c:  # doubled quote
                    j += 2
                    continue
                return j + 1
            j += 1
        raise PortabilityError(f"unterminated quote at {i}")
    if sql.startswith("--", i):
        j = sql.find("\n", i)
        return len(sql) if j < 0 else j
    return i


def _walk(sql: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """(index, parenthesis depth after it) of every character from ``start`` that is outside
    quotes and comments."""
    depth, i = 0, start
    while i < len(sql):
        j = _skip(sql, i)
        if j != i:
            i = j
            continue
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
        yield i, depth
        i += 1


def _close(sql: str, open_at: int) -> int:
    """The index of the parenthesis closing the one at ``open_at``."""
    for i, depth in _walk(sql, open_at):
        if sql[i] == ")" and depth == 0:
            return i
    raise PortabilityError(f"unbalanced parenthesis at {open_at}")


def _split(args: str) -> list[str]:
    """Top-level comma-separated parts of an argument list."""
    parts, start = [], 0
    for i, depth in _walk(args):
        if args[i] == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    parts.append(args[start:].strip())
    return parts


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WITHIN = re.compile(r"\s*WITHIN\s+GROUP\s*\(", re.IGNORECASE)
_ORDER_BY = re.compile(r"\s*ORDER\s+BY\s+", re.IGNORECASE)
_IGNORE = re.compile(r"\s+IGNORE\s+NULLS\s*$", re.IGNORECASE)
_CTE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^()]*\))?\s+AS\s*\(", re.IGNORECASE)


def _scan(sql: str, d: Dialect | None, recursive: bool, seen: set[str]) -> str:
    """Render ``sql`` for ``d`` (None: only collect the called names into ``seen``)."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        j = _skip(sql, i)
        if j != i:
            out.append(sql[i:j])
            i = j
            continue
        m = _WORD.match(sql, i)
        if not m or (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_.")):
            if m:  # the rest of a qualified or longer name
                out.append(m.group())
                i = m.end()
            else:
                out.append(sql[i])
                i += 1
            continue
        word, k = m.group(), m.end()
        lw = word.lower()
        if lw == "union" and recursive and d is not None \
                and not re.match(r"\s+ALL\b", sql[k:], re.IGNORECASE):
            out.append(d.recursive_union)
            i = k
            continue
        p = k
        while p < len(sql) and sql[p] in " \t\n":
            p += 1
        if p >= len(sql) or sql[p] != "(" or lw in _KEYWORDS:
            out.append(word)
            i = k
            continue
        seen.add(lw)
        end = _close(sql, p)
        inner = sql[p + 1:end]
        if lw == "percentile_cont":
            w = _WITHIN.match(sql, end + 1)
            if not w:
                raise PortabilityError("percentile_cont needs WITHIN GROUP (ORDER BY ...)")
            g_end = _close(sql, w.end() - 1)
            order = sql[w.end():g_end]
            o = _ORDER_BY.match(order)
            if not o or re.search(r"\b(DESC|ASC)\s*$", order, re.IGNORECASE):
                raise PortabilityError("percentile_cont: write ORDER BY x, ascending")
            x = _scan(order[o.end():], d, recursive, seen).strip()
            pv = _scan(inner, d, recursive, seen).strip()
            out.append(d.percentile.format(x=x, p=pv) if d else "")
            i = g_end + 1
            continue
        if lw == "date_diff":
            parts = _split(inner)
            if len(parts) != 3 or parts[0].lower() != "'second'":
                raise PortabilityError("date_diff: only date_diff('second', a, b) is portable")
            a, b = (_scan(x, d, recursive, seen) for x in parts[1:])
            out.append(d.seconds.format(a=a, b=b) if d else "")
            i = end + 1
            continue
        rendered = _scan(inner, d, recursive, seen)
        ign = _IGNORE.search(rendered)
        if ign and lw in ("first_value", "nth_value") and d is not None and d.ignore_nulls_after:
            out.append(f"{word}({rendered[:ign.start()]}) IGNORE NULLS")
        else:
            out.append(f"{word}({rendered})")
        i = end + 1
    return "".join(out)


def called(sql: str) -> set[str]:
    """The lower-case names of the functions ``sql`` calls (CTE names and keywords excluded)."""
    seen: set[str] = set()
    _scan(sql, None, False, seen)
    ctes = {m.group(1).lower() for m in _CTE.finditer(sql)}
    return seen - ctes


def check(sql: str) -> None:
    """Raise :class:`PortabilityError` naming what ``sql`` uses outside the portable subset."""
    if "::" in sql:
        raise PortabilityError("'::' casts are not portable: write CAST(x AS type)")
    bad = called(sql) - FUNCTIONS - RULES
    if bad:
        raise PortabilityError("not in the portable subset: " + ", ".join(sorted(bad)))


def render(sql: str, engine: str) -> str:
    """``sql`` (canonical spelling) as ``engine`` must read it. DuckDB reads the canonical
    spelling as it is."""
    if engine == DUCKDB:
        return sql
    d = DIALECTS[engine]
    recursive = re.match(r"\s*WITH\s+RECURSIVE\b", sql, re.IGNORECASE) is not None
    return _scan(sql, d, recursive, set())
