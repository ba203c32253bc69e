"""Running a plan: the materializer, its tasks and executors, pools and log capture."""
