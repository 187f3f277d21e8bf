"""Train the nianbao token classifier: `python train.py [--config configs/default.yaml] [--output-dir DIR] [key=value ...]`."""

import sys

from nianbao.train import main

if __name__ == "__main__":
    sys.exit(main())
