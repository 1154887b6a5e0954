"""Tests of rhythmcan_cli/training/."""
