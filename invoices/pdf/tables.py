"""Tables whose cell styles are worked out per band of like cells, not per cell.

`Table.setStyle` applies every cell command (font, colour, alignment, padding) to each cell of its
range, and a table starts with one `CellStyle` per cell: for the hours statement that is thousands
of Python calls per page, all reaching the same few combinations. Rows (and columns) that no
command's edge separates end up styled alike, so the commands are applied once per band with
ReportLab's own `_setCellStyle` and the band's style is shared by its cells, which is how ReportLab
itself shares styles between the halves of a split table. Same table, same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from reportlab.platypus import Table, TableStyle
from reportlab.platypus.tables import CellStyle, _setCellStyle

_CELL_OPS = frozenset(
    {
        "FONT",
        "FONTNAME",
        "FACE",
        "SIZE",
        "FONTSIZE",
        "LEADING",
        "TEXTCOLOR",
        "ALIGN",
        "ALIGNMENT",
        "VALIGN",
        "LEFTPADDING",
        "RIGHTPADDING",
        "TOPPADDING",
        "BOTTOMPADDING",
    }
)


def styled_table(
    rows: Sequence[Sequence[Any]],
    *,
    col_widths: Sequence[float],
    commands: Sequence[tuple[Any, ...]],
    **table_options: Any,
) -> Table:
    """`Table(rows, colWidths=col_widths, **table_options)` styled with `commands`."""
    data = [list(row) for row in rows]
    nrows, ncols = len(data), max(len(row) for row in data)
    cell_commands: list[tuple[str, int, int, int, int, tuple[Any, ...]]] = []
    other: list[tuple[Any, ...]] = []
    for command in commands:
        if command[0] not in _CELL_OPS:
            other.append(command)
            continue
        op, (sc, sr), (ec, er) = command[:3]
        sc, ec = _clip(sc, ncols), _clip(ec, ncols)
        sr, er = _clip(sr, nrows), _clip(er, nrows)
        cell_commands.append((op, sc, ec, sr, er, tuple(command[3:])))
    row_bands = _bands(nrows, [(c[3], c[4]) for c in cell_commands])
    col_bands = _bands(ncols, [(c[1], c[2]) for c in cell_commands])
    grid = [[CellStyle(repr((rs, cs))) for cs, _ in col_bands] for rs, _ in row_bands]
    for op, sc, ec, sr, er, values in cell_commands:
        for i, (rs, re_) in enumerate(row_bands):
            if sr <= rs and re_ <= er + 1:
                for j, (cs, ce) in enumerate(col_bands):
                    if sc <= cs and ce <= ec + 1:
                        _setCellStyle(grid, i, j, op, values)
    col_band_of = [j for j, (cs, ce) in enumerate(col_bands) for _ in range(cs, ce)]
    cell_styles = [
        [grid[i][j] for j in col_band_of]
        for i, (rs, re_) in enumerate(row_bands)
        for _ in range(rs, re_)
    ]
    table = Table(data, colWidths=list(col_widths), cellStyles=cell_styles, **table_options)
    table.setStyle(TableStyle(other))
    return table


def _clip(index: int, size: int) -> int:
    """`Table.normCellRange` for one end: negative counts from the end, clipped to the table."""
    if not isinstance(index, int):
        raise ValueError(f"only numeric cell ranges here, not {index!r}")
    if index < 0:
        index += size
    return max(0, min(size - 1, index))


def _bands(size: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, stop) runs of indices that every range covers wholly or not at all."""
    cuts = {0, size}
    for start, end in ranges:
        cuts.update((start, end + 1))
    edges = sorted(cut for cut in cuts if 0 <= cut <= size)
    return list(pairwise(edges))
