"""Tests of skdce.train, one module per module (a package: its basenames repeat those of tests/)."""
