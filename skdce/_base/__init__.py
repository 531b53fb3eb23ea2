"""Foundations every layer shares: argument checks (:mod:`.validate`) and the image conventions (:mod:`.image`)."""
