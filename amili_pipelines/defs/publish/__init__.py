"""The analysts' published database (asset ``publish/analytics_snapshot``)."""
