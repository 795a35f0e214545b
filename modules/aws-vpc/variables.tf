variable "name" {
  description = "Name prefix of every resource, and the EKS cluster the subnets are tagged for."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.name))
    error_message = "name must be a lower-case DNS label of at most 63 characters."
  }
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC. Private subnets take its first half, public ones a quarter of the rest."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 20
    error_message = "cidr must be an IPv4 CIDR block of /20 or larger, e.g. 10.0.0.0/16."
  }
}

variable "zones" {
  description = "Availability zones; one public and one private subnet per zone."
  type        = list(string)

  validation {
    condition     = length(var.zones) >= 2 && length(var.zones) <= 6
    error_message = "EKS needs two to six availability zones."
  }
}

variable "nat" {
  description = "NAT gateways for the private subnets: single (one, cheapest), per-zone (one per zone, zone-resilient) or none."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "per-zone", "none"], var.nat)
    error_message = "nat must be single, per-zone or none."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
