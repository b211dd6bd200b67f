"""The operator's figures: `clippost stats`, the operator page and /metrics read them here."""
