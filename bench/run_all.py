"""Run every benchmark in bench/ one after the other (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    scripts = sorted(
        p
        for p in HERE.glob("*.py")
        if p.name not in ("common.py", "run_all.py") and not p.name.startswith("_")
    )
    failed = 0
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        failed += subprocess.call([sys.executable, str(script)], cwd=HERE) != 0
    sys.exit(1 if failed else 0)
