"""The plan catalogue: versioned support plans (fee, hours, overage, SLA terms)."""
