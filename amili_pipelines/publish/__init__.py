"""The analysts' published copy of the warehouse (masked, atomically replaced)."""

from amili_pipelines.publish.analytics import PUBLISHED, PublishSummary, publish_analytics

__all__ = ["PUBLISHED", "PublishSummary", "publish_analytics"]
