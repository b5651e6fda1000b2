"""The one window/paging helper behind every ``query_*`` of the store (reads, alerts, sessions, anomalies,
journeys): half-open time windows, camera scope on one or more columns, id cursors without gaps or overlap."""

from __future__ import annotations

import sqlalchemy as sa

from alpr.bridge.store.base import page, window

META = sa.MetaData()
T = sa.Table(
    "t",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ts_ms", sa.Integer),
    sa.Column("a", sa.String),
    sa.Column("b", sa.String),
)


def _engine() -> sa.Engine:
    eng = sa.create_engine("sqlite://")
    META.create_all(eng)
    with eng.begin() as conn:
        conn.execute(
            T.insert(),
            [
                {"id": i, "ts_ms": 100 * i, "a": "gate" if i % 2 else "exit", "b": "gate"}
                for i in range(1, 11)
            ],
        )
    return eng


def _ids(conds: list[object], limit: int = 100, before: int | None = None) -> tuple[list[int], int | None]:
    with _engine().connect() as conn:
        rows, nxt = page(conn, sa.select(T).where(*conds), T.c.id, limit, before)
    return [r.id for r in rows], nxt


def test_window_is_half_open_and_either_end_may_be_open() -> None:
    assert _ids(window(T.c.ts_ms, 300, 600))[0] == [5, 4, 3]
    assert _ids(window(T.c.ts_ms, None, 300))[0] == [2, 1]
    assert _ids(window(T.c.ts_ms, 900, None))[0] == [10, 9]
    assert window(T.c.ts_ms, None, None) == []


def test_camera_scope_applies_to_every_column_named() -> None:
    assert _ids(window(T.c.ts_ms, None, None, cameras=["gate"], in_=T.c.a))[0] == [9, 7, 5, 3, 1]
    assert _ids(window(T.c.ts_ms, None, None, cameras=["gate"], in_=(T.c.a, T.c.b)))[0] == [9, 7, 5, 3, 1]
    assert _ids(window(T.c.ts_ms, None, None, cameras=["exit"], in_=(T.c.a, T.c.b)))[0] == []
    assert _ids(window(T.c.ts_ms, None, None, cameras=None, in_=T.c.a))[0] == list(range(10, 0, -1))


def test_cursor_walks_every_row_once_newest_first() -> None:
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        ids, before = _ids([], limit=3, before=before)
        seen += ids
        pages += 1
        if before is None:
            break
        assert before == ids[-1]
    assert seen == list(range(10, 0, -1)) and pages == 4
    assert _ids([], limit=10) == (list(range(10, 0, -1)), None)  # exactly one full page: no next cursor
