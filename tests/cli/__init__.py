"""Tests of the command line, one module per module of skdce/cli/."""
