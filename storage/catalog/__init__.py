"""The catalog (SQLModel over SQLite or PostgreSQL): partition states, leases, runs, ticks."""
