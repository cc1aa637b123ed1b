"""The analysts' published copy of the warehouse (masked, atomically replaced)."""

from amili_pipelines.publish.analytics import PublishSummary, publish_analytics

__all__ = ["PublishSummary", "publish_analytics"]
