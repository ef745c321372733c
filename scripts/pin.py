"""Write constraints.txt: the exact versions of everything `pip install -e '.[dev]'` brought in.

    python3 scripts/pin.py        # after installing and running the tests on purpose-updated versions

scripts/install.sh installs with these constraints, so CI and a fresh machine get the versions
the suite last passed with (lower bounds alone drift: pytest 9.2 broke schemathesis 4.32.5's
pytest plugin).
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

from packaging.requirements import Requirement

HEADER = """\
# Exact versions of shipwise's dependencies and dev extras, used by scripts/install.sh (and so by
# CI). Updated on purpose: install newer versions, run scripts/test.sh, then `python3 scripts/pin.py`.
"""


def closure(name: str, extras: tuple[str, ...], seen: dict[str, str]) -> None:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return
    key = dist.metadata["Name"].lower().replace("_", "-")
    if key in seen:
        return
    seen[key] = f"{dist.metadata['Name']}=={dist.version}"
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or ("",)):
            continue
        closure(req.name, tuple(req.extras), seen)


def main() -> None:
    seen: dict[str, str] = {}
    closure("shipwise", ("dev",), seen)
    seen.pop("shipwise", None)
    out = Path(__file__).resolve().parents[1] / "constraints.txt"
    out.write_text(HEADER + "".join(v + "\n" for v in sorted(seen.values(), key=str.lower)))
    print(f"{len(seen)} pins written to {out}")


if __name__ == "__main__":
    main()
