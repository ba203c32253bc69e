"""Partitions definitions: time windows, cron, static and dynamic keys, multi-dimensional."""
