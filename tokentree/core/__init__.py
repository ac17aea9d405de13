"""Core: logs to calls to index to tree. Never imports textual."""
