"""Decide the next write for one journal identity from what F&O holds now (pure, no I/O).

The poster reads every F&O journal carrying the identity, hands them here with the journal
built now, writes the one step this returns, reads again and asks again. Because the decision
looks only at F&O, it holds across processes, instances and a lost local database:

- all line numbers present and the money per account + dimensions the same: the journal is
  present (whatever its split or description): nothing to write;
- money differs, or lines exist that the journal built now would not write: a difference to
  report (a correction), never a reason to create;
- some lines missing and the present ones exactly as they would be written: resume, adding
  only the missing numbers to the journal already holding the part's lines, else to the
  lowest-numbered empty unposted journal of the identity (the deterministic keeper, so two
  writers that raced to create a header converge on one), else create a header;
- empty unposted journals that no part needs are surplus: a writer deletes the ones it made.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ml_connector_dagster.posting.lines import Difference, LedgerLine, account_differences
from ml_connector_dagster.posting.payloads import JournalPart


@dataclass(frozen=True)
class HeaderState:
    """One F&O journal of the identity, with its lines by LineNumber."""

    batch_number: str
    posted: bool
    lines: Mapping[int, LedgerLine] = field(default_factory=dict)
    description: str = ""


class PlanKind(Enum):
    PRESENT = "present"  # every line is in F&O with the same money: nothing to write
    WRITE = "write"  # a step to take: create a header or add lines
    CHANGED = "changed"  # F&O differs from the journal built now: a correction, not a write
    CONFLICT = "conflict"  # F&O holds the identity in a shape no write can repair safely


@dataclass(frozen=True)
class Step:
    part: JournalPart
    target: str | None  # JournalBatchNumber to fill; None: create a header for the part first
    missing: tuple[int, ...]  # the line numbers to add


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    step: Step | None = None
    surplus: tuple[str, ...] = ()  # empty unposted journals of the identity no part needs
    differences: tuple[Difference, ...] = ()
    reason: str = ""
    all_posted: bool = False  # PRESENT and every journal holding lines is posted in F&O
    holders: tuple[str, ...] = ()  # journals holding the identity's lines, in number order
    dated: tuple[str, ...] = ()  # TransDates in F&O that differ from the journal built now


def batch_order(batch_number: str) -> tuple[int, str]:
    """Number-sequence order: shorter first, then text (``USMF-000010`` after ``USMF-000009``)."""
    return (len(batch_number), batch_number)


def plan_next(
    expected: Mapping[int, LedgerLine],
    parts: Sequence[JournalPart],
    headers: Sequence[HeaderState],
    corrections: Sequence[LedgerLine] = (),
) -> Plan:
    """The next step for the identity; see the module docstring for the rules.

    ``corrections`` are the lines of the identity's correcting journals in F&O: the money
    compared with Rippling is the journal plus its corrections.
    """
    ordered = sorted(headers, key=lambda h: batch_order(h.batch_number))
    present: dict[int, tuple[HeaderState, LedgerLine]] = {}
    for header in ordered:
        for number, line in header.lines.items():
            if number in present:
                first = present[number][0].batch_number
                return Plan(
                    PlanKind.CONFLICT,
                    reason=(
                        f"line {number} of this journal is in both {first} and"
                        f" {header.batch_number}: the identity was written twice; keep one"
                        " journal in F&O and delete the other"
                    ),
                )
            present[number] = (header, line)
    holders = tuple(h.batch_number for h in ordered if h.lines)
    held_lines = [line for _, line in present.values()] + list(corrections)
    dated = tuple(
        sorted(
            {
                f"line {n} dated {line.trans_date}, now {expected[n].trans_date}"
                for n, (_, line) in present.items()
                if n in expected and line.trans_date != expected[n].trans_date
            }
        )
    )
    surplus_candidates = [h for h in ordered if not h.lines and not h.posted]
    present_plan = Plan(
        PlanKind.PRESENT,
        surplus=tuple(h.batch_number for h in surplus_candidates),
        all_posted=all(h.posted for h in ordered if h.lines),
        holders=holders,
        dated=dated,
    )

    if set(present) == set(expected) or corrections:
        # Complete (a corrected journal is complete as it stands): compare the money only.
        differences = tuple(account_differences(held_lines, expected.values()))
        if differences:
            return Plan(
                PlanKind.CHANGED,
                differences=differences,
                holders=holders,
                reason="the journal in F&O differs from Rippling now",
            )
        return present_plan

    extra = sorted(set(present) - set(expected))
    mismatched = [
        n for n, (_, line) in present.items() if n in expected and not line.same_money(expected[n])
    ]
    if (extra or mismatched) and not account_differences(held_lines, expected.values()):
        # Other lines, same money per account and dimensions: the ledger is right as it is.
        return present_plan
    if extra or mismatched:
        return Plan(
            PlanKind.CHANGED,
            differences=tuple(account_differences(held_lines, expected.values())),
            holders=holders,
            reason=(
                f"F&O holds {len(present)} of this journal's lines and"
                f" {len(extra) + len(mismatched)} of them differ from what Rippling gives now"
            ),
        )

    # Resume: every present line is as it would be written; find the first part with a gap.
    unheld_parts: list[JournalPart] = []
    first_step: Step | None = None
    for part in parts:
        missing = tuple(n for n in part.line_numbers if n not in present)
        if not missing:
            continue
        part_holders = sorted(
            {present[n][0].batch_number for n in part.line_numbers if n in present},
            key=batch_order,
        )
        if len(part_holders) > 1:
            return Plan(
                PlanKind.CONFLICT,
                holders=holders,
                reason=(
                    f"part {part.index}/{part.count} is spread over {', '.join(part_holders)}"
                    " (written with another split) and is incomplete; finish or delete it in F&O"
                ),
            )
        if part_holders:
            holder = next(h for h in ordered if h.batch_number == part_holders[0])
            if holder.posted:
                return Plan(
                    PlanKind.CONFLICT,
                    holders=holders,
                    reason=(
                        f"journal {holder.batch_number} is posted in F&O but lacks"
                        f" {len(missing)} of its lines; post a correcting journal"
                    ),
                )
            step = Step(part, holder.batch_number, missing)
        else:
            unheld_parts.append(part)
            step = Step(part, None, missing)  # target assigned below
        if first_step is None:
            first_step = step
    # Empty unposted journals go to the parts nobody holds, lowest number first.
    keepers = dict(zip((p.index for p in unheld_parts), surplus_candidates, strict=False))
    surplus = tuple(h.batch_number for h in surplus_candidates[len(unheld_parts) :])
    assert first_step is not None  # present is a strict subset of expected
    if first_step.target is None and first_step.part.index in keepers:
        first_step = Step(
            first_step.part, keepers[first_step.part.index].batch_number, first_step.missing
        )
    return Plan(PlanKind.WRITE, step=first_step, surplus=surplus, holders=holders, dated=dated)
