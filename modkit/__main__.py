import sys

from modkit.cli import main

sys.exit(main())
