"""Screenshots of the main dashboard pages, for the README: a temp store with the demo
organisation and one investigated bad deploy, a server on 127.0.0.1, and Debian's headless
Chromium driven by Playwright. Usage: ``python scripts/screenshots.py [--out docs/screenshots]``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.web.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MEMBER_TEAM,
    _serve,
    build_store,
    sign_in,
)

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings, tokens, record = build_store(Path(tmp))
        server, thread, sock, port = _serve(settings)
        url = f"http://127.0.0.1:{port}"
        shots = [  # (file, role, path, viewport, wait for chart)
            ("overview.png", "admin", "/", LAPTOP, None),
            ("team.png", "member", f"/teams/{MEMBER_TEAM}", LAPTOP, "cost-chart"),
            ("org-cost.png", "exec", "/org/cost", LAPTOP, "org-cost-chart"),
            ("investigation.png", "member", f"/investigations/{record['id']}", LAPTOP, None),
            ("team-phone.png", "member", f"/teams/{MEMBER_TEAM}", PHONE, "cost-chart"),
            ("org-health.png", "exec", "/org", LAPTOP, None),
            ("fairness.png", "exec", "/fairness", LAPTOP, None),
            ("incidents.png", "member", "/incidents", LAPTOP, None),
            ("ai.png", "exec", "/ai", LAPTOP, None),
            ("refusal.png", "exec", f"/teams/{MEMBER_TEAM}", LAPTOP, None),
        ]
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
                for name, role, path, viewport, chart in shots:
                    context = browser.new_context(viewport=viewport,
                                                  is_mobile=viewport is PHONE,
                                                  device_scale_factor=1)
                    page = context.new_page()
                    sign_in(page, url, tokens[role])
                    page.goto(url + path)
                    if chart:
                        page.wait_for_function(
                            f"() => window.shipwiseCharts && window.shipwiseCharts['{chart}']")
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(args.out / name), full_page=viewport is not PHONE)
                    print(args.out / name)
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
            thread.join(30)
            sock.close()


if __name__ == "__main__":
    main()
