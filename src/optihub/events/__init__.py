"""Domain events: the outbox and their delivery to subscribers, and the in-process hooks
through which one use case reacts to another in the same transaction (``hooks``)."""
