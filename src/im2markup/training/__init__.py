"""Training: the loop, checkpoints that resume exactly, schedules and data-parallel runs."""
