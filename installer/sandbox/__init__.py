"""Local stand-ins for cloud APIs, used by `kfstack up --sandbox` and the tests."""
