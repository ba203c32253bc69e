"""How and when: status, planning, materialization and the project API."""
