"""The operator's tools: what `clippost outbox`, `clippost suppressions` and /admin do."""
