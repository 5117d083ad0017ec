"""The domain: the vocabulary every layer shares (roles, states, statuses); it imports nothing of the project."""
