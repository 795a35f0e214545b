terraform {
  # terraform_data (the only resource type here) arrived in Terraform 1.4; 1.5 is the
  # oldest release kfstack's runner supports.
  required_version = ">= 1.5"
}
