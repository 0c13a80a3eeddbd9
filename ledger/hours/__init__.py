"""The hours ledger: allotments, consumption, overage, expiry, pooling and corrections.

Every change is an appended `LedgerEntry`; allotments and per-period overage keep running
totals updated in the same transaction, so a balance costs the same at ten entries as at ten
million, and a test proves the totals always equal the sums of the rows.
"""
