"""reports/index.html: every run, newest first, failures marked, nothing from a file run as HTML."""

import json

from facegen.reporting.pages import write_index

HEADLINE = {
    "test_accuracy": 0.9123, "test_accuracy_low": 0.9011, "test_accuracy_high": 0.9234,
    "f1_macro": 0.911, "worst_subgroup": "age_band 3-12", "worst_subgroup_accuracy": 0.61,
    "worst_subgroup_n": 88,
}  # fmt: skip


def _run(root, run_id: str, manifest: dict, pages: tuple[str, ...] = ()) -> None:
    """A run folder holding a tiny manifest and empty stand-ins for the pages it links to."""
    folder = root / run_id
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for name in pages:
        (folder / name).write_text("")


def _complete(**headline) -> dict:
    return {
        "status": "complete", "parameters": {"profile": "full", "epochs": 12},
        "headline": {**HEADLINE, **headline}, "wall_seconds": 2712.3,
    }  # fmt: skip


def _rows(page: str) -> list[str]:
    return page.split("<tbody>")[1].split("</tr>")[:-1]


def test_runs_are_listed_newest_first_with_their_numbers_and_pages(tmp_path):
    _run(tmp_path, "20260101-000000-full-seed42", _complete(),
         pages=("01_eda.html", "04_evaluation.html", "model_card.html"))  # fmt: skip
    _run(tmp_path, "20260202-000000-full-seed43", _complete(test_accuracy=0.95))
    page = write_index(tmp_path).read_text()
    older, newer = _rows(page)[1], _rows(page)[0]
    assert "seed43" in newer and "95.0%" in newer
    assert "91.2%" in older and "(90.1% – 92.3%)" in older and "0.911" in older
    assert "age band 3-12: 61.0%" in older and "(n = 88)" in older and "45 min" in older
    assert 'href="20260101-000000-full-seed42/04_evaluation.html"' in older
    assert 'href="20260101-000000-full-seed42/model_card.html"' in older
    assert "02_preprocessing" not in older  # only the pages that exist
    assert "External accuracy" not in page  # no run has one yet


def test_failed_runs_are_marked_with_where_they_stopped(tmp_path):
    failure = {"notebook": "01_eda.ipynb", "cell": 7, "message": "01_eda.ipynb failed"}
    _run(tmp_path, "a-notebook", {"status": "failed", "failure": failure})
    _run(tmp_path, "b-training", {"status": "interrupted", "failure": {"step": "train"}})
    page = write_index(tmp_path).read_text()
    training, notebook = _rows(page)
    assert 'class="failed"' in notebook and "failed in 01_eda.ipynb cell [7]" in notebook
    assert 'class="interrupted"' in training
    assert "interrupted in training (facegen train)" in training
    assert "–" in notebook  # no result shown for a failed run


def test_unreadable_manifests_are_skipped(tmp_path):
    _run(tmp_path, "good", _complete())
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "manifest.json").write_text("[]")
    page = write_index(tmp_path).read_text()
    assert len(_rows(page)) == 1 and "good" in page and "broken" not in page


def test_an_empty_folder_says_how_to_make_a_run(tmp_path):
    assert "No runs yet" in write_index(tmp_path).read_text()


def test_names_from_files_are_escaped(tmp_path):
    hostile = "<script>alert(1)</script>"
    _run(tmp_path, "x<script>alert(1)", _complete(worst_subgroup=f"ethnicity {hostile}"))
    page = write_index(tmp_path).read_text()
    assert "<script>" not in page
    assert "x&lt;script&gt;alert(1)" in page
    assert "ethnicity &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="x%3Cscript%3Ealert%281%29/manifest.json"' in page


def test_external_accuracy_is_a_column_once_any_run_has_it(tmp_path):
    external = {
        "external_accuracy": 0.871, "external_accuracy_low": 0.86, "external_accuracy_high": 0.882,
        "external_collection": "FairFace",
    }  # fmt: skip
    _run(tmp_path, "a-old", _complete())
    _run(tmp_path, "b-new", _complete(**external))
    page = write_index(tmp_path).read_text()
    new, old = _rows(page)
    assert "External accuracy" in page
    assert "87.1%" in new and "(86.0% – 88.2%)" in new and "on FairFace" in new
    assert old.count("<td>–</td>") == 1  # the old run's external cell
