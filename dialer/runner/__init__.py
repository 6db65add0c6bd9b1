"""The runner: dials a campaign's leads through a backend and logs every attempt."""
