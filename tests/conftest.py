pytest_plugins = ["tests._dns_fixtures"]
