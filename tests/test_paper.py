"""The paper's claims (validation/paper.py) in their quick form: each claim is a test, and the
command writes its report and figures and fails when a claim fails."""
import pytest

from validation import paper


@pytest.mark.parametrize("name", [n for n in paper.CLAIMS if n != "mean-field"])  # the mean-field limit: tests/test_validation.py
def test_quick_claim_holds(name, tmp_path):
    rows = paper.CLAIMS[name](True, tmp_path)
    assert rows
    for row in rows:
        expected_failure = "expected to fail" in row.threshold
        assert row.passed != expected_failure, (row.claim, row.measured, row.threshold, row.note)
        if row.figure:
            assert (tmp_path / row.figure).is_file()


def test_report_lists_every_row_and_the_command_fails_on_a_failing_claim(tmp_path, monkeypatch, capsys):
    from validation.__main__ import main

    assert main(["paper", "--quick", "--out", str(tmp_path), "--only", "condition14"]) == 0
    report = (tmp_path / "REPORT.md").read_text()
    assert "| two-sided condition (14)" in report and "| FAIL |" in report  # the printed Lemma 2, listed and expected to fail
    failing = paper.Outcome("a claim that fails", "nowhere", 1.0, "< 0", False)
    monkeypatch.setitem(paper.CLAIMS, "condition14", lambda quick, out: [failing])
    assert main(["paper", "--quick", "--out", str(tmp_path), "--only", "condition14"]) == 1
    assert "1 claim(s) failed: nowhere" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["paper", "--only", "lemma99"])
