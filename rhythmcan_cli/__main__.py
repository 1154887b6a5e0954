"""Allow ``python -m rhythmcan_cli``."""

from rhythmcan_cli.cli import main

main()
