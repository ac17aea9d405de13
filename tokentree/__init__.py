"""tokentree: ncdu for AI coding spend."""
