pytest_plugins = ["byom_sdk.testing.plugin"]
