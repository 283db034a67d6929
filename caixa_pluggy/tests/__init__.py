from . import test_sync
from . import test_connect_tour
