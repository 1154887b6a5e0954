"""Tests of rhythmcan_cli/formats/."""
