"""Tests of rhythmcan_cli/audio/."""
