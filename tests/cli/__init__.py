"""Tests of rhythmcan_cli/cli/."""
