"""Amili Norway ("Collection API v1"): OAuth2 client credentials, asynchronous batches."""
