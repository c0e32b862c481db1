"""``python -m ma_notebook.cli``."""

import sys

from .main import main

sys.exit(main())
