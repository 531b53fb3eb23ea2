"""The numeric stages of the pipeline, one module each (private)."""
