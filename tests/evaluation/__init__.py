"""Tests of rhythmcan_cli/evaluation/."""
