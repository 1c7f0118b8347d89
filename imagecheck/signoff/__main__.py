"""python -m imagecheck.signoff merge SHARD_DIR... --out DIR [--release] [--baseline FILE]"""
import sys

from .cli import main

sys.exit(main())
