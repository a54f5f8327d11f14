import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
# Import the URL modules now, as the web process starts, not on its first request: they
# reach every provider's receipt webhooks, which kept each process's first caller waiting
# ~0.8 s (a 10k-receiver send included).
get_resolver().url_patterns  # noqa: B018 - the property does the import
# What is loaded now (Django, the apps, every provider: ~190k objects) stays for the life of
# the process: moved out of the collector's generations, it is no longer traversed by every
# full collection, which a 10k-receiver send triggers several times. On such a send that
# took the collector from ~45 ms to ~3 ms.
gc.freeze()
