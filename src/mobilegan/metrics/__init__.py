"""Segmentation metrics as the ISIC challenges compute them."""

from mobilegan.metrics.isic import (JACCARD_THRESHOLD, METRIC_KEYS, POOLED_KEYS, confusion,
                                    image_metrics, metrics_from_confusion, resize_to, summarize)

__all__ = ["JACCARD_THRESHOLD", "METRIC_KEYS", "POOLED_KEYS", "confusion", "image_metrics",
           "metrics_from_confusion", "resize_to", "summarize"]
