"""Visma Amili Sweden ("ADA API"): Eve-style resources, token in ``X-API-Key``."""
