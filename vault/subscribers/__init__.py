"""Lists, subscribers, their consent, bulk import and subject access."""
