"""Terraform HCL modules shipped as package data; nothing to import."""
