"""Regenerate docs/report.png: the saas template generated into DuckDB, its fidelity report, a screenshot of the
page's top in headless Chromium, reduced to a palette PNG if it is over 400 KB.

    python scripts/report_screenshot.py            # needs chromium on PATH (Debian: apt-get install chromium)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "report.png"
WIDTH, HEIGHT = 1200, 2300
MAX_BYTES = 400_000


def main() -> int:
    from PIL import Image

    from dbt_plotsim.cli import main as cli

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.chdir(tmp)  # the page names the file as given: saas.duckdb
        if cli(["generate", str(ROOT / "dbt_plotsim" / "templates" / "saas.yml"), "--out", "saas.duckdb"]) != 0:
            return 1
        if cli(["report", "--duckdb", "saas.duckdb", "--out", "saas.html"]) != 0:
            return 1
        page = tmp / "saas.html"
        shot = tmp / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp / 'profile'}", "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}",
                        f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
        image = Image.open(shot).convert("RGB")
        OUT.parent.mkdir(exist_ok=True)
        image.save(OUT, optimize=True)
        for colours in (256, 128, 64):  # fewer colours until it fits
            if OUT.stat().st_size <= MAX_BYTES:
                break
            image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size / 1000:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
