"""Sandboxes: local stand-ins for the clouds, for `kfstack up --sandbox`.

`aws.emulator()` runs a local AWS API emulator (moto's server, the optional extra
`sandbox`) in-process for the duration of a `with` block; the AWS stack is applied to it
by the real terraform and AWS provider. Nothing real is created, and every command that
uses a sandbox says so.
"""
