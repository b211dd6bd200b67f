"""Planner: when each reader's next digest is due, and inserting it (idempotent)."""
