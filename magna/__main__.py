"""``python -m magna`` is the ``magna`` command."""

from magna.cmd.magna import main

main()
