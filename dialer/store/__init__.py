"""The run log: one DuckDB file holding runs, attempts, events, transcripts and the DNC table."""
