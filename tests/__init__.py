"""rhythmcan tests: the folders mirror the package (tests/training/ for rhythmcan_cli/training/)."""
