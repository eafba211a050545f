"""The matrix's page and tally say what happened, a break and a known limit included."""

from faultmatrix.cells import CellResult
from faultmatrix.report import markdown, tally

RESULTS = [
    CellResult("429", "rippling-reads", "holds", "exit 0", "replay exit 0", 2, 17.0),
    CellResult(
        "drop-after",
        "rippling-token",
        "known limit",
        "exit 1",
        "replay exit 0; run again exit 1",
        1,
        12.0,
        ["Rippling rotates the refresh token", "0 journals in F&O"],
    ),
    CellResult(
        "kill", "lines-batch", "BROKEN", "killed", "replay exit 1", 1, 22.0, ["2 journals | x"]
    ),
]


def test_the_tally_counts_holds_limits_and_breaks_apart() -> None:
    assert tally(RESULTS) == "1 of 3 cells hold, 1 is a known limit, 1 does not hold"
    assert tally(RESULTS[:1]) == "1 of 1 cells hold"


def test_the_page_shows_each_cell_in_the_grid_and_its_problems() -> None:
    page = markdown(RESULTS, command="make fault-matrix", commit="abc1234")
    assert "at commit `abc1234`: 1 of 3 cells hold, 1 is a known limit, 1 does not hold" in page
    kill_row, kill_cell = [line for line in page.splitlines() if line.startswith("| kill |")]
    cells = [c.strip() for c in kill_row.strip("|").split("|")]
    assert cells[0] == "kill" and cells[5] == "BROKEN"  # lines-batch is the 5th stage
    assert "not run" in cells  # a cell of this selection that did not run says so
    assert "| kill | lines-batch | BROKEN | killed | replay exit 1 |" in kill_cell
    assert "n/a" in page.split("| token-expiry |")[1].splitlines()[0]  # not applicable
    assert "2 journals \\| x" in page  # a problem's "|" cannot break the table
    assert "## Known limits" in page and "rippling-token" in page.split("## Known limits")[1]
