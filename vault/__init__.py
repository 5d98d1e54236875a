"""mailvault: a privacy-preserving subscriber and suppression store for email senders."""
