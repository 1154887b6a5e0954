"""Tests of rhythmcan_cli/store/."""
