"""One step of a billing worker: what the server's background thread, `hourglass billing
worker` and `hourglass billing run` all call in their loops.

`tick` bills one chunk of any running run (or of the run asked for) in one transaction; when no
chunk is waiting it renders one batch of documents instead. With a rendering pool
(`document_processes` > 1) the pool renders a batch of documents while the chunk is billed, so
issuing and rendering share the cores. Either way it completes the runs it finished. Work that
should start by itself on a worker's clock (say, the month's run once it has ended everywhere)
hooks in here, before the chunk.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from invoices.runs.chunks import ChunkResult, work_chunk
from invoices.runs.completion import finalize_if_done
from invoices.runs.documents import BATCH_PER_PROCESS, render_alongside, render_documents
from ledger.base import unit_of_work

if TYPE_CHECKING:
    from invoices.runs.flows import Biller


def _bill_chunk(biller: Biller, *, run_id: int | None, now: datetime) -> ChunkResult | None:
    with unit_of_work(biller.factory) as session:
        result = work_chunk(
            session,
            issuer=biller.issuer,
            now=now,
            worker=biller.worker,
            run_id=run_id,
            size=biller.chunk_size,
        )
        if result is not None:
            for run in sorted(result.run_ids):
                finalize_if_done(session, run, now=now)
    return result


def tick(biller: Biller, *, run_id: int | None = None) -> bool:
    """Do one unit of work; False when there was nothing to do."""
    now = biller.clock()
    processes = biller.document_processes
    if processes > 1:
        # As many documents as a chunk issues: the backlog stays level while issuing goes on.
        rendered, chunk = render_alongside(
            biller.factory,
            lambda: _bill_chunk(biller, run_id=run_id, now=now),
            issuer=biller.issuer,
            now=now,
            processes=processes,
            limit=max(processes * BATCH_PER_PROCESS, biller.chunk_size),
        )
        return chunk is not None or rendered is not None
    if _bill_chunk(biller, run_id=run_id, now=now) is not None:
        return True
    return render_documents(biller.factory, issuer=biller.issuer, now=now, processes=1) is not None
