pytest_plugins = ["pytester", "byom_sdk.testing.plugin"]
