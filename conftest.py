pytest_plugins = ["imagecheck.pytest_plugin.plugin"]
