"""Importing agentinsight.emit stays light: no pandas, numpy, scikit-learn, plotly, papermill."""

from __future__ import annotations

import subprocess
import sys


def test_import_emit_pulls_in_nothing_heavy():
    code = (
        "import sys\n"
        "from agentinsight import emit\n"
        "heavy = [m for m in ('pandas', 'numpy', 'sklearn', 'plotly', 'papermill')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing agentinsight.emit imported {out.stdout.strip()}"
