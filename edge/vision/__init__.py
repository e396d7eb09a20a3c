"""Edge vision stages: quality gates, OCR, image classification."""
