"""Tests of rhythmcan_cli/dataset/."""
