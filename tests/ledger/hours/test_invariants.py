"""Random sequences of ledger operations never break the hours invariant.

Each example signs a contract with random terms (included hours, after-hours multiplier, overage
cap, pooling, a start or end inside a month) and runs a random list of operations straight
through the services: post work (sometimes at night, sometimes approved beyond the cap, sometimes
late) one entry or a batch at a time, reverse an existing entry, pool or unpool two months, close
the next period, cancel the contract, let time pass, read a balance and a statement. Each
operation runs in a SAVEPOINT that is rolled back when the service refuses it, as the HTTP layer
rolls back the request; a refusal must leave every row as it was.

After every step the ledger is audited from SQL sums (`invariants.assert_ledger_consistent`),
and, until the first pool is made, compared with an independent model of SPEC "Hours" rules
1, 2, 4–7 and 10: which operations are refused (and with which error), every allotment and
overage total, and what balance and statement show. The first test has no pool operations, so
the model follows it to the end; the second has them.

Bugs found while building this model (since fixed in ledger/) keep their minimal reproductions
at the bottom.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from math import ceil, floor
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy.orm import Session

from ledger.contracts.cancellation import cancel
from ledger.contracts.service import lock_contract, plan_of
from ledger.errors import Conflict, DomainError, InvalidInput, NotFound
from ledger.hours.closing import close_period
from ledger.hours.errors import (
    AlreadyReversed,
    OutsideContract,
    OverageCapExceeded,
    PeriodClosed,
    PoolingRefused,
)
from ledger.hours.models import (
    Allotment,
    ClosedPeriod,
    LedgerEntry,
    PeriodOverage,
    Pool,
    WorkEntry,
)
from ledger.hours.pools import create_pool, undo_pool
from ledger.hours.reports import balance, statement
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_batch, post_work, reverse_work
from ledger.periods import add_months, month_period
from tests.factories import create_contract, create_plan
from tests.ledger.hours.invariants import assert_ledger_consistent

ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
INCREMENT = 15
MONTHS = [date(2026, month, 1) for month in range(1, 7)]


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_end_instant(month: date) -> datetime:
    """Local midnight after the month: when its hours expire."""
    return datetime.combine(add_months(month, 1), time(0), tzinfo=BERLIN).astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# Operations and terms, as hypothesis draws them (their reprs are the falsifying example)


@dataclass(frozen=True)
class Terms:
    included_hours: int
    multiplier: str
    pooling_allowed: bool
    cap_hours: int | None
    start: date
    end: date | None


@dataclass(frozen=True)
class Work:
    day: date
    minutes: int
    level: int
    night: bool = False
    approved: bool = False
    late: bool = False


@dataclass(frozen=True)
class Reverse:
    pick: int  # an index into every entry posted so far (reversals included), modulo


@dataclass(frozen=True)
class MakePool:
    month: date


@dataclass(frozen=True)
class UndoPool:
    month: date


@dataclass(frozen=True)
class CloseNext:
    early: bool = False  # try before the period has ended (refused while it has not)


@dataclass(frozen=True)
class Wait:
    days: int


@dataclass(frozen=True)
class Cancel:
    end: date  # the contract's new last day


@dataclass(frozen=True)
class Read:
    """The balance in the middle of a month and that month's statement, against the model."""

    month: date


@dataclass(frozen=True)
class Batch:
    """Several entries at once (`post_batch`): all of them, or none."""

    works: tuple[Work, ...]


Operation = Work | Reverse | MakePool | UndoPool | CloseNext | Wait | Cancel | Read | Batch

terms_strategy = st.builds(
    Terms,
    included_hours=st.sampled_from([20, 20, 5, 5, 0]),
    multiplier=st.sampled_from(["1", "1.5"]),
    pooling_allowed=st.booleans() | st.just(True),
    cap_hours=st.none() | st.sampled_from([0, 1, 3, 10]),
    start=st.sampled_from([date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 20)]),
    end=st.none() | st.sampled_from([date(2026, 5, 20), date(2026, 6, 30)]),
)
# Half the work lands in the first two months, so hours run out and caps bite.
work_days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 2, 28)) | st.dates(
    min_value=date(2026, 1, 1), max_value=date(2026, 6, 30)
)
pool_months = st.sampled_from(MONTHS[:5])
# Hypothesis favours small integers: long sessions are drawn on purpose, to exhaust allotments.
work_minutes = st.integers(min_value=1, max_value=900) | st.sampled_from([240, 480, 600, 900])
work_ops = st.builds(
    Work,
    day=work_days,
    minutes=work_minutes,
    level=st.integers(min_value=1, max_value=4),
    night=st.booleans(),
    approved=st.sampled_from([False, False, False, True]),
    late=st.just(False),
)
late_work_ops = st.builds(
    Work,
    day=work_days,
    minutes=work_minutes,
    level=st.integers(min_value=1, max_value=4),
    late=st.just(True),
)
reversals = st.builds(Reverse, pick=st.integers(min_value=0, max_value=1000))
closings = st.builds(CloseNext, early=st.booleans())
waits = st.builds(Wait, days=st.integers(min_value=1, max_value=60))
cancellations = st.builds(
    Cancel, end=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 6, 30))
)


def weighted(*choices: tuple[int, st.SearchStrategy[Operation]]) -> st.SearchStrategy[Operation]:
    """st.one_of would pick its branches uniformly (and merges repeated ones)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


reads = st.builds(Read, month=st.sampled_from(MONTHS))
batches = st.builds(
    Batch,
    works=st.lists(weighted((4, work_ops), (1, late_work_ops)), min_size=1, max_size=4).map(tuple),
)
operations_without_pools = weighted(
    (6, work_ops),
    (1, late_work_ops),
    (2, reversals),
    (1, closings),
    (1, waits),
    (1, cancellations),
    (1, reads),
    (1, batches),
)
operations = weighted(
    (6, work_ops),
    (1, late_work_ops),
    (2, reversals),
    (1, st.builds(MakePool, month=pool_months)),
    (1, st.builds(UndoPool, month=pool_months)),
    (1, closings),
    (1, waits),
    (1, cancellations),
    (1, reads),
    (1, batches),
)


# ---------------------------------------------------------------------------------------------
# The model: SPEC rules computed independently of ledger/ (no pools)


@dataclass
class MonthModel:
    granted: int
    used: int = 0
    expired: int = 0
    overage: int = 0
    on_demand: int = 0
    late: int = 0
    net_billable: int = 0  # work minus reversals, late work excluded
    closed: bool = False

    @property
    def remaining(self) -> int:
        return self.granted - self.used - self.expired


@dataclass
class Posted:
    id: int
    kind: str
    day: date
    month: date
    billable: int
    late: bool
    reversed: bool = False


@dataclass
class Model:
    terms: Terms
    now: datetime
    months: dict[date, MonthModel] = field(default_factory=dict)
    posted: list[Posted] = field(default_factory=list)
    pools: set[date] = field(default_factory=set)
    closed_through: int = 0  # MONTHS[:closed_through] are closed
    tracking: bool = True  # False once a pool exists: consumption then depends on history
    end: date | None = None  # the contract's last day, moved by a cancellation

    def __post_init__(self) -> None:
        self.end = self.terms.end
        for month in MONTHS:
            self.months[month] = MonthModel(granted=self.prorated(month))

    @property
    def included(self) -> int:
        return self.terms.included_hours * 60

    def covered_days(self, month: date) -> int:
        last = add_months(month, 1) - timedelta(days=1)
        first_day = max(month, self.terms.start)
        last_day = last if self.end is None else min(last, self.end)
        return max(0, (last_day - first_day).days + 1)

    def prorated(self, month: date) -> int:
        days = (add_months(month, 1) - month).days
        exact = Fraction(self.included * self.covered_days(month), days)
        return floor(exact / INCREMENT + Fraction(1, 2)) * INCREMENT

    def inside(self, day: date) -> bool:
        return day >= self.terms.start and (self.end is None or day <= self.end)

    def billable(self, op: Work) -> int:
        multiplier = Fraction(self.terms.multiplier) if op.night else Fraction(1)
        return ceil(op.minutes * multiplier / INCREMENT) * INCREMENT

    def expect_work(self, op: Work) -> type[DomainError] | None:
        month = self.months[month_of(op.day)]
        if not self.inside(op.day):
            return OutsideContract
        if month.closed and not op.late:
            return PeriodClosed
        if op.late and not month.closed:
            return InvalidInput
        if op.late or self.included == 0:
            return None
        left = self.billable(op) - min(self.billable(op), month.remaining)
        cap = None if self.terms.cap_hours is None else self.terms.cap_hours * 60
        if left and cap is not None and not op.approved and left > max(0, cap - month.overage):
            return OverageCapExceeded
        return None

    def apply_work(self, op: Work, entry_id: int) -> None:
        month_start = month_of(op.day)
        month, billable = self.months[month_start], self.billable(op)
        self.posted.append(Posted(entry_id, "work", op.day, month_start, billable, op.late))
        if op.late:
            month.late += billable
            return
        month.net_billable += billable
        take = min(billable, month.remaining)
        month.used += take
        left = billable - take
        if self.included == 0:
            month.on_demand += left
            return
        cap = None if self.terms.cap_hours is None else self.terms.cap_hours * 60
        within = left if cap is None else min(left, max(0, cap - month.overage))
        month.overage += within
        month.on_demand += left - within

    def expect_reverse(self, target: Posted) -> type[DomainError] | None:
        if target.kind != "work":
            return InvalidInput
        if target.reversed:
            return AlreadyReversed
        if not target.late and self.months[target.month].closed:
            return PeriodClosed
        return None

    def apply_reverse(self, target: Posted, reversal_id: int) -> None:
        target.reversed = True
        self.posted.append(
            Posted(reversal_id, "reversal", target.day, target.month, -target.billable, target.late)
        )
        month = self.months[target.month]
        if target.late:
            month.late -= target.billable
            return
        month.net_billable -= target.billable
        left = target.billable
        for rate in ("on_demand", "overage"):
            take = min(left, getattr(month, rate))
            setattr(month, rate, getattr(month, rate) - take)
            left -= take
        # Minutes go back to the month's allotment; they would expire at once only if its
        # period were closed, and then the reversal is refused.
        month.used -= left

    def expect_pool(self, first: date) -> type[DomainError] | None:
        if not self.terms.pooling_allowed:
            return PoolingRefused
        if any(self.covered_days(m) == 0 for m in (first, add_months(first, 1))):
            return PoolingRefused
        if self.months[first].closed:
            return PoolingRefused
        if {add_months(first, -1), first, add_months(first, 1)} & self.pools:
            return PoolingRefused
        return None

    def expect_undo(self, first: date) -> type[DomainError] | None:
        if first not in self.pools:
            return NotFound
        if self.months[first].closed:
            return PoolingRefused
        return None

    def expect_cancel(self, end: date) -> type[DomainError] | None:
        # The contract cannot end before its last invoiced day (inclusive).
        if self.closed_through and end < add_months(MONTHS[self.closed_through - 1], 1) - timedelta(
            days=1
        ):
            return Conflict
        # Work after the end date must be reversed first: a reversal nets its work to zero.
        if sum(entry.billable for entry in self.posted if entry.day > end):
            return Conflict
        if end < self.terms.start or (self.end is not None and end > self.end):
            return InvalidInput
        return None

    def apply_cancel(self, end: date, granted_already: set[date]) -> None:
        """Hours granted beyond the new end go back, as far as they are unused; allotments
        not granted yet will be granted pro rata."""
        self.end = end
        for month_start, month in self.months.items():
            due = self.prorated(month_start)
            if month_start not in granted_already:
                month.granted = due
            elif not month.closed:
                month.granted -= min(max(month.granted - due, 0), month.remaining)

    def close(self, month_start: date) -> None:
        month = self.months[month_start]
        month.expired += month.remaining
        month.closed = True
        self.closed_through += 1


# ---------------------------------------------------------------------------------------------
# Reading the database back


def _snapshot(session: Session, contract_id: int) -> tuple[Any, ...]:
    """Everything a refused operation must leave untouched: row counts and running totals."""
    session.flush()

    def count(table: Any, *where: Any) -> Any:
        return (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.contract_id == contract_id, *where)
            .scalar_subquery()
        )

    tables = [
        model.__table__  # type: ignore[attr-defined]
        for model in (WorkEntry, LedgerEntry, Allotment, PeriodOverage, Pool, ClosedPeriod)
    ]
    pools = Pool.__table__  # type: ignore[attr-defined]
    counts = session.execute(
        sa.select(*(count(t) for t in tables), count(pools, pools.c.undone_at.is_(None)))
    ).one()
    allotments = Allotment.__table__  # type: ignore[attr-defined]
    overages = PeriodOverage.__table__  # type: ignore[attr-defined]
    totals = session.execute(
        sa.select(
            allotments.c.period_start,
            allotments.c.granted_minutes,
            allotments.c.used_minutes,
            allotments.c.expired_minutes,
            allotments.c.remaining_minutes,
            allotments.c.valid_from,
            allotments.c.valid_until,
            allotments.c.closed,
        )
        .where(allotments.c.contract_id == contract_id)
        .order_by(allotments.c.period_start)
    ).all()
    overage_totals = session.execute(
        sa.select(
            overages.c.period_start,
            overages.c.overage_minutes,
            overages.c.on_demand_minutes,
            overages.c.late_minutes,
        )
        .where(overages.c.contract_id == contract_id)
        .order_by(overages.c.period_start)
    ).all()
    return (tuple(counts), tuple(totals), tuple(overage_totals))


def _compare_with_model(session: Session, contract_id: int, model: Model) -> None:
    allotments = {
        a.period_start: a
        for a in session.scalars(
            sa.select(Allotment).where(Allotment.contract_id == contract_id)  # type: ignore[arg-type]
        )
    }
    overages = {
        o.period_start: o
        for o in session.scalars(
            sa.select(PeriodOverage).where(PeriodOverage.contract_id == contract_id)  # type: ignore[arg-type]
        )
    }
    for month_start, expected in model.months.items():
        allotment = allotments.get(month_start)
        if allotment is None:
            # Not granted yet (granting is lazy) or nothing to grant: then nothing drew on it.
            assert (expected.used, expected.expired) == (0, 0), (month_start, expected)
        else:
            actual = (
                allotment.granted_minutes,
                allotment.used_minutes,
                allotment.expired_minutes,
                allotment.remaining_minutes,
                allotment.closed,
            )
            wanted = (
                expected.granted,
                expected.used,
                expected.expired,
                expected.remaining,
                expected.closed,
            )
            assert actual == wanted, f"{month_start}: allotment {actual}, model {wanted}"
        totals = overages.get(month_start)
        actual_overage = (
            (totals.overage_minutes, totals.on_demand_minutes, totals.late_minutes)
            if totals
            else (0, 0, 0)
        )
        wanted_overage = (expected.overage, expected.on_demand, expected.late)
        assert actual_overage == wanted_overage, (
            f"{month_start}: overage/on-demand/late {actual_overage}, model {wanted_overage}"
        )
        # SPEC rule 4 in one line: the overage of a month is what its hours could not cover.
        uncovered = max(0, expected.net_billable - expected.granted)
        assert actual_overage[0] + actual_overage[1] == uncovered, (month_start, expected)
        assert expected.remaining >= 0


# ---------------------------------------------------------------------------------------------
# Running one example


def _sign(session: Session, terms: Terms) -> tuple[int, Model]:
    plan = create_plan(
        session,
        included_hours=str(terms.included_hours),
        billing_increment_minutes=INCREMENT,
        after_hours_multiplier=terms.multiplier,
        pooling_allowed=terms.pooling_allowed,
    )
    contract = create_contract(
        session,
        plan=plan,
        start_date=terms.start,
        end_date=terms.end,
        overage_cap_hours=terms.cap_hours,
    )
    assert contract.id is not None
    return contract.id, Model(terms=terms, now=datetime(2026, 1, 1, tzinfo=BERLIN).astimezone(UTC))


def _work_data(op: Work, index: int) -> WorkEntryCreate:
    started_at = datetime.combine(op.day, time(23, 0), tzinfo=BERLIN) if op.night else None
    return WorkEntryCreate(
        worked_on=op.day,
        minutes=op.minutes,
        level=op.level,
        ticket_ref=f"T-{index}",
        started_at=started_at,
        late=op.late,
        approved_overage=op.approved,
    )


def _read(session: Session, contract_id: int, model: Model, month_start: date) -> None:
    """Balance and statement are read from the running totals: they must tell the model's
    story (expiry shown from the expiry instant on, before any billing run)."""
    _note("Read")
    at = datetime.combine(month_start.replace(day=15), time(12), tzinfo=BERLIN)
    shown = balance(session, contract_id, at=at, now=model.now)
    try:
        sheet = statement(session, contract_id, month=month_start, now=model.now)
    except OutsideContract:
        sheet = None
    # A read writes nothing (SPEC "Security"), not even the allotment of a period not granted yet.
    assert not session.new and not session.dirty and not session.deleted
    if not model.tracking:
        return
    if sheet is None:  # a month the contract no longer covers: nothing granted, nothing used
        month = model.months[month_start]
        assert (month.granted, month.used, month.overage, month.late) == (0, 0, 0, 0)
        return
    month = model.months[month_start]
    assert (shown.remaining_minutes, shown.overage_minutes) == (
        month.remaining,
        month.overage + month.on_demand,
    ), (month_start, shown, month)
    expired, remaining = month.expired, month.remaining
    if model.now >= month_end_instant(month_start):
        expired, remaining = expired + remaining, 0
    wanted = (month.granted, month.used, expired, remaining, month.overage + month.on_demand)
    actual = (
        sheet.granted_minutes,
        sheet.used_minutes,
        sheet.expired_minutes,
        sheet.remaining_minutes,
        sheet.overage_minutes,
    )
    assert actual == wanted, f"statement {month_start}: {actual}, model {wanted}"
    assert sheet.late_minutes == month.late
    posted = sum(e.billable for e in model.posted if e.month == month_start)
    assert sum(e.billable_minutes for e in sheet.entries) == posted


def _note(what: str) -> None:
    """Tally what happened (`pytest --hypothesis-show-statistics`): are refusals exercised?"""
    if currently_in_test_context():
        event(what)


def _step(session: Session, contract_id: int, model: Model, op: Operation, index: int) -> None:
    """Run one operation in a savepoint; check the model's verdict and that refusals write
    nothing."""
    expected: type[DomainError] | None = None
    apply: Any = None
    if isinstance(op, Wait):
        model.now += timedelta(days=op.days)
        return
    if isinstance(op, Read):
        _read(session, contract_id, model, op.month)
        return
    if isinstance(op, Work):
        expected = model.expect_work(op)

        def run() -> Any:
            return post_work(session, contract_id, _work_data(op, index))

        def apply(entry: WorkEntry) -> None:
            assert entry.id is not None
            assert entry.billable_minutes == model.billable(op), (op, entry.billable_minutes)
            model.apply_work(op, entry.id)

    elif isinstance(op, Reverse):
        if not model.posted:
            return
        target = model.posted[op.pick % len(model.posted)]
        expected = model.expect_reverse(target)

        def run() -> Any:
            return reverse_work(session, target.id)

        def apply(reversal: WorkEntry) -> None:
            assert reversal.id is not None
            model.apply_reverse(target, reversal.id)

    elif isinstance(op, MakePool):
        expected = model.expect_pool(op.month)

        def run() -> Any:
            return create_pool(session, contract_id, op.month)

        def apply(_: Any) -> None:
            model.pools.add(op.month)
            model.tracking = False

    elif isinstance(op, UndoPool):
        expected = model.expect_undo(op.month)

        def run() -> Any:
            return undo_pool(session, contract_id, op.month)

        def apply(_: Any) -> None:
            model.pools.discard(op.month)

    elif isinstance(op, Batch):
        # The model plays the batch on a copy: the first entry it refuses refuses them all.
        trial = copy.deepcopy(model)
        for work_op in op.works:
            expected = trial.expect_work(work_op)
            if expected is not None:
                break
            trial.apply_work(work_op, 0)

        def run() -> Any:
            items = [
                (contract_id, _work_data(work_op, index * 10 + n))
                for n, work_op in enumerate(op.works)
            ]
            return post_batch(session, items)

        def apply(entries: list[WorkEntry]) -> None:
            for work_op, entry in zip(op.works, entries, strict=True):
                assert entry.id is not None
                assert entry.billable_minutes == model.billable(work_op)
                model.apply_work(work_op, entry.id)

    elif isinstance(op, Cancel):
        expected = model.expect_cancel(op.end)
        granted_already = set(
            session.scalars(
                sa.select(Allotment.period_start).where(Allotment.contract_id == contract_id)  # type: ignore[arg-type]
            )
        )

        def run() -> Any:
            return cancel(session, contract_id, op.end)

        def apply(_: Any) -> None:
            model.apply_cancel(op.end, granted_already)

    else:
        if model.closed_through == len(MONTHS):
            return
        month = MONTHS[model.closed_through]
        end = month_end_instant(month)
        now = model.now if op.early else max(model.now, end)
        expected = Conflict if now < end else None

        def run() -> Any:
            contract = lock_contract(session, contract_id)
            return close_period(
                session, contract, plan_of(session, contract), month_period(month), now=now
            )

        def apply(_: Any) -> None:
            model.now = now
            model.close(month)

    before = _snapshot(session, contract_id)
    try:
        with session.begin_nested():
            result = run()
    except DomainError as exc:
        _note(f"{type(op).__name__} refused: {type(exc).__name__}")
        assert _snapshot(session, contract_id) == before, f"refused {op} but rows changed"
        if model.tracking:
            assert expected is not None, f"{op} refused ({exc.detail}); the model accepts it"
            assert isinstance(exc, expected), f"{op} refused with {exc!r}, expected {expected}"
        return
    _note(f"{type(op).__name__}{' (late)' if getattr(op, 'late', False) else ''} accepted")
    if model.tracking:
        assert expected is None, f"{op} accepted; the model expects {expected.__name__}"
    apply(result)


def run_operations(session: Session, terms: Terms, ops: list[Operation]) -> None:
    contract_id, model = _sign(session, terms)
    assert_ledger_consistent(session, contract_id)
    for index, op in enumerate(ops):
        _step(session, contract_id, model, op, index)
        assert_ledger_consistent(session, contract_id)
        if model.tracking:
            _compare_with_model(session, contract_id, model)


RANDOM_RUNS = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@RANDOM_RUNS
@given(terms=terms_strategy, ops=st.lists(operations_without_pools, min_size=10, max_size=25))
def test_random_operations_match_the_model(
    session: Session, terms: Terms, ops: list[Operation]
) -> None:
    """Without pools, every refusal and every total is predicted by the model."""
    example = session.begin_nested()  # each example sees only its own rows
    try:
        run_operations(session, terms, ops)
    finally:
        example.rollback()


@RANDOM_RUNS
@given(terms=terms_strategy, ops=st.lists(operations, min_size=10, max_size=25))
def test_random_operations_with_pools_keep_the_ledger_consistent(
    session: Session, terms: Terms, ops: list[Operation]
) -> None:
    """Pooling and unpooling re-consume posted work; the ledger must balance throughout (the
    model follows until the first pool is made)."""
    example = session.begin_nested()
    try:
        run_operations(session, terms, ops)
    finally:
        example.rollback()


# ---------------------------------------------------------------------------------------------
# Found while modelling the rules: minimal reproductions of bugs since fixed


def test_cancel_after_reversing_the_later_work(session: Session) -> None:
    contract = create_contract(session, start_date=date(2026, 1, 1))
    assert contract.id is not None
    entry = post_work(
        session,
        contract.id,
        WorkEntryCreate(worked_on=date(2026, 3, 10), minutes=60, level=3, ticket_ref="T-1"),
    )
    assert entry.id is not None
    reverse_work(session, entry.id)
    cancelled = cancel(session, contract.id, date(2026, 3, 1))
    assert cancelled.end_date == date(2026, 3, 1)
    assert_ledger_consistent(session, contract.id)


def test_cancel_on_the_last_invoiced_day(session: Session) -> None:
    contract = create_contract(session, start_date=date(2026, 1, 1))
    assert contract.id is not None
    locked = lock_contract(session, contract.id)
    close_period(
        session,
        locked,
        plan_of(session, locked),
        month_period(date(2026, 1, 1)),
        now=month_end_instant(date(2026, 1, 1)),
    )
    cancelled = cancel(session, contract.id, date(2026, 1, 31))
    assert cancelled.end_date == date(2026, 1, 31)
    february = session.scalar(
        sa.select(Allotment).where(
            Allotment.contract_id == contract.id,  # type: ignore[arg-type]
            Allotment.period_start == date(2026, 2, 1),  # type: ignore[arg-type]
        )
    )
    assert february is not None and february.granted_minutes == 0
    assert_ledger_consistent(session, contract.id)


def test_quarterly_statement_months_never_show_negative_overage(session: Session) -> None:
    plan = create_plan(session, period="quarter", included_hours="60", pooling_allowed=False)
    contract = create_contract(session, plan=plan, start_date=date(2026, 1, 1))
    assert contract.id is not None

    def post(day: date, minutes: int) -> WorkEntry:
        data = WorkEntryCreate(worked_on=day, minutes=minutes, level=3, ticket_ref=f"T-{day}")
        return post_work(session, contract.id or 0, data)

    january = post(date(2026, 1, 10), 60 * 60)  # the whole quarter's hours
    post(date(2026, 2, 10), 600)  # 600 overage
    assert january.id is not None
    reverse_work(session, january.id)
    assert_ledger_consistent(session, contract.id)
    quarter = session.scalar(
        sa.select(PeriodOverage).where(
            PeriodOverage.contract_id == contract.id,  # type: ignore[arg-type]
            PeriodOverage.period_start == date(2026, 1, 1),  # type: ignore[arg-type]
        )
    )
    assert quarter is not None and quarter.overage_minutes == 0
    now = datetime(2026, 2, 12, tzinfo=UTC)
    shown = [
        statement(session, contract.id, month=date(2026, m, 1), now=now).overage_minutes
        for m in (1, 2, 3)
    ]
    assert min(shown) >= 0 and sum(shown) == quarter.overage_minutes, shown
