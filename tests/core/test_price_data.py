"""genai-prices' data loaded without the package's update machinery (core/price_data.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_RATES = """
import sys
{first}
from tokentree.core import price_data
from tokentree.core.pricing import PriceBook

rates = PriceBook().rates_for("claude-sonnet-4-5-20250929", "claude-code", 1.78e9)
updates = sorted({{"genai_prices.update_prices", "httpx2", "asyncio"}} & set(sys.modules))
print(repr(rates))
print(updates)
"""


def _run(code: str, **env: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        cwd=Path(__file__).parents[2],
    )
    return out.stdout.splitlines()


def test_the_rates_are_those_of_the_whole_package_without_its_update_client() -> None:
    bare_rates, bare_imports = _run(_RATES.format(first=""))
    whole_rates, whole_imports = _run(_RATES.format(first="import genai_prices"))
    assert bare_rates == whole_rates and "genai-prices 0." in bare_rates
    assert bare_imports == "[]" and "genai_prices.update_prices" in whole_imports


def test_a_package_whose_data_needs_its_init_is_imported_whole(tmp_path: Path) -> None:
    package = tmp_path / "genai_prices"
    package.mkdir()
    (package / "__init__.py").write_text("WHOLE = 'imported whole'\n")
    (package / "data_snapshot.py").write_text(
        "from genai_prices import WHOLE\n\ndef get_snapshot():\n    return WHOLE\n"
    )
    code = "from tokentree.core import price_data; print(price_data.snapshot())"
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    assert _run(code, PYTHONPATH=path) == ["imported whole"]
