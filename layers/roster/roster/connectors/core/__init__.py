"""What every connector shares: the run loop, field mapping with export rules, and the export planner."""
