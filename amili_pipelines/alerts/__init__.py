"""Telling a person when the pipeline needs one: what to look at, in words, on the channels they read."""
