"""`python -m accord.cli`."""

import sys

try:  # Ctrl-C while the CLI is still importing ends as it does later: 130, no traceback
    from accord.cli.app import main
except KeyboardInterrupt:
    sys.stderr.write("interrupted\n")
    sys.exit(130)

main()
