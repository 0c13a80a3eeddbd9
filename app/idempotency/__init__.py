"""`Idempotency-Key` for writes that create money or hours (SPEC "Hours" rule 8)."""
