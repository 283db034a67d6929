from . import test_sync
