"""Retention: rules per record class, batched purges, and the reports compliance shows auditors."""
