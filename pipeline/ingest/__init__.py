"""Inbox to staging: reading the extracts, pseudonyms, the load log and the raw archive."""
