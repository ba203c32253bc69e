"""Planning: partition status and its causes, the planner, and explanations (pure)."""
