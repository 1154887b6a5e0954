"""Tests of rhythmcan_cli/engine/."""
