"""The suppression list: keyed digests, checks, and the in-memory snapshot."""
