import sys

from agentinsight.cli import main

sys.exit(main())
