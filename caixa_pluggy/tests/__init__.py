from . import test_sync
from . import test_connect_tour
from . import test_install
from . import test_connect_routes
from . import test_settings
from . import test_connections
from . import test_webhook
from . import test_translations
