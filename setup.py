"""Package discovery that pyproject.toml alone cannot express.

The HCL modules live in `modules/` at the top of the repository (where Terraform users
look for them) and ship inside the wheel as the data-only package `kfstack_modules`.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["installer*", "stacks*"]) + ["kfstack_modules"],
    package_dir={"kfstack_modules": "modules"},
)
