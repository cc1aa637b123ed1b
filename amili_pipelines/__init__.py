"""amili-pipelines: hand unpaid invoices to Amili and reconcile what became of them."""

__version__ = "0.1.0"
