"""One module per alert channel. Importing this package imports (and so registers) each of them;
adding a channel is adding a module here."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
