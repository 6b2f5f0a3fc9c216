"""Domain events: the outbox and (issue: webhook engine) their delivery to subscribers."""
