variable "name" {
  description = "Name of the file system and prefix of its security group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.name))
    error_message = "name must be a lower-case DNS label of at most 63 characters."
  }
}

variable "vpc_id" {
  description = "VPC of the mount targets."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "vpc_cidr_block" {
  description = "CIDR admitted to NFS (TCP 2049) on the mount targets: the nodes' VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr_block, 0))
    error_message = "vpc_cidr_block must be an IPv4 CIDR block."
  }
}

variable "subnet_ids" {
  description = "Private subnet IDs; one mount target is created in each (one per zone)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "At least one subnet is needed for a mount target."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
