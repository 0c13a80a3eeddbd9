"""One step of a billing worker: what the server's background thread, `hourglass billing
worker` and `hourglass billing run` all call in their loops.

`tick` bills one chunk of any running run (or of the run asked for) in one transaction; when no
chunk is waiting it renders one batch of documents instead. Either way it completes the runs it
finished. Work that should start by itself on a worker's clock (say, the month's run once it
has ended everywhere) hooks in here, before the chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoices.runs.chunks import work_chunk
from invoices.runs.completion import finalize_if_done
from invoices.runs.documents import render_documents
from ledger.base import unit_of_work

if TYPE_CHECKING:
    from invoices.runs.flows import Biller


def tick(biller: Biller, *, run_id: int | None = None) -> bool:
    """Do one unit of work; False when there was nothing to do."""
    now = biller.clock()
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
            return True
    rendered = render_documents(
        biller.factory, issuer=biller.issuer, now=now, processes=biller.document_processes
    )
    return rendered is not None
