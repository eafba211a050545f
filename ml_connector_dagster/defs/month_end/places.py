"""How a place (main account and dimensions) reads in the month-end tables of the UI."""

from ml_connector_dagster.ledger.keys import Dimensions


def place_text(account: str, dimensions: Dimensions, order: tuple[str, ...], delimiter: str) -> str:
    """``600100-001-D160-CCBDV``: the main account and the dimensions in the mapping's format
    order (blanks kept, as F&O writes a display value), then any dimension the format lacks as
    ``name=value``, so no value is hidden."""
    values = dict(dimensions)
    extra = [f"{name}={value}" for name, value in dimensions if name not in order]
    text = delimiter.join([account, *(values.get(name, "") for name in order)])
    return " ".join([text, *extra])
