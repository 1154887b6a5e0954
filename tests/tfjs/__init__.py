"""Tests of rhythmcan_cli/tfjs/."""
