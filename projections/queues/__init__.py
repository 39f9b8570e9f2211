"""Work queues: per unit, by status and assignee, ordered by the next due instant."""
