"""Batch inference on new reports: `python infer.py INPUT... --out DIR` (see nianbao/infer.py)."""

import sys

from nianbao.infer import main

if __name__ == "__main__":
    sys.exit(main())
