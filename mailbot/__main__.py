import sys

from mailbot.cli.entry import run

sys.exit(run())
