"""Files cut short, garbled or missing: an error that names the file, never a partial load."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentinsight.exceptions import ParseError, SourceError
from agentinsight.sources import FileSource

METRICS = "".join(
    f'# TYPE up_{i} gauge\nup_{i}{{job="a"}} 1 60\nup_{i}{{job="a"}} 0 120\n' for i in range(50)
) + "# EOF\n"


def _folder(tmp_path: Path, metrics: str, truth: str | None = None) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "metrics.om").write_text(metrics, encoding="utf-8")
    if truth is not None:
        (folder / "truth.json").write_text(truth, encoding="utf-8")
    return folder


def test_a_complete_file_loads_every_series(tmp_path: Path) -> None:
    assert len(FileSource(_folder(tmp_path, METRICS)).samples) == 50


def test_a_file_cut_at_a_line_boundary_is_refused_with_its_name_and_line(tmp_path: Path) -> None:
    cut = "".join(METRICS.splitlines(keepends=True)[:90])  # whole lines, no '# EOF'
    folder = _folder(tmp_path, cut)
    with pytest.raises(ParseError, match="EOF") as err:
        _ = FileSource(folder).samples
    assert err.value.path == str(folder / "metrics.om") and err.value.line == 90


def test_a_file_cut_mid_line_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="truncated"):
        _ = FileSource(_folder(tmp_path, METRICS[: len(METRICS) // 2])).samples


@pytest.mark.parametrize("truth", ["{not json", "[1, 2, 3]", "\xff\xfe"])
def test_a_garbled_truth_file_is_a_parse_error_naming_it(tmp_path: Path, truth: str) -> None:
    folder = _folder(tmp_path, METRICS, truth)
    with pytest.raises(ParseError) as err:
        _ = FileSource(folder).scrape_interval
    assert str(folder / "truth.json") in str(err.value)


def test_an_empty_folder_names_itself(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=str(tmp_path / "empty")):
        FileSource(tmp_path / "empty").range("up", start=0, end=120)
