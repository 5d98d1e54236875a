"""The audit log: hash-chained entries that name ids and digests, never addresses."""
