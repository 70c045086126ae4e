import sys

from mailbot.cli.main import main

sys.exit(main())
