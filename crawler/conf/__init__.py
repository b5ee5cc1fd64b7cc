"""The config contract of DESIGN.md, validated into typed objects at load time.

    base.py      building blocks (strict models, Secret, durations, ChannelSpec)
    sections.py  network, sources, watches, daemon, alerts, workers
    model.py     Config: the sections plus the registered alert channels
    load.py      YAML text → Config (line numbers in errors, ${VAR}, secrets registered)

Import from the modules themselves: this package imports nothing, so channel modules can use
`base` and `sections` without importing the config model that lists them."""
