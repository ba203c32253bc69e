"""Automation: the daemon and its sources (schedules, eager assets, sensors)."""
