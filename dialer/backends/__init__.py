"""Call backends: where a dial goes (the offline simulator, or LiveKit)."""
