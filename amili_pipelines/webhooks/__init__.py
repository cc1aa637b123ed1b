"""The webhook receiver (an entry point): Amili Norway's pushed events into the inbox, verified and durable.

``amili-pipelines webhooks --host --port`` serves :func:`~amili_pipelines.webhooks.app.create_app`;
the inbox sensor (``defs/reconcile/webhooks.py``) starts the runs the events call for.
"""
