"""LiveKit: the call spec and report the runner and the agent worker exchange."""
