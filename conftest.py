pytest_plugins = ["imagecheck.plugin"]
