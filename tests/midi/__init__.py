"""Tests of rhythmcan_cli/midi/."""
