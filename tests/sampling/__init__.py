"""Tests of rhythmcan_cli/sampling/."""
