variable "project" {
  description = "Project id the network lives in."
  type        = string
}

variable "region" {
  description = "Region of the subnetwork (the cluster's region)."
  type        = string
}

variable "name" {
  description = "Base name for the network and subnetwork (<name>-<environment>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$", var.name))
    error_message = "name must be a lower-case RFC 1035 label of at most 52 characters."
  }
}

variable "existing_network" {
  description = "Name of an existing VPC network to use; null creates a new one."
  type        = string
  default     = null
}

variable "existing_subnetwork" {
  description = "Name of an existing subnetwork in var.region; required with existing_network."
  type        = string
  default     = null
}

variable "pods_range_name" {
  description = "Existing secondary range for pods (existing subnetwork only)."
  type        = string
  default     = null
}

variable "services_range_name" {
  description = "Existing secondary range for services (existing subnetwork only)."
  type        = string
  default     = null
}

variable "cidr" {
  description = "Primary range of a new subnetwork (node addresses)."
  type        = string
  default     = "10.10.0.0/20"

  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "cidr must be an IPv4 CIDR block, e.g. 10.10.0.0/20."
  }
}

variable "pods_cidr" {
  description = "Secondary range for pod addresses of a new subnetwork."
  type        = string
  default     = "10.20.0.0/14"

  validation {
    condition     = can(cidrhost(var.pods_cidr, 0))
    error_message = "pods_cidr must be an IPv4 CIDR block, e.g. 10.20.0.0/14."
  }
}

variable "services_cidr" {
  description = "Secondary range for service addresses of a new subnetwork."
  type        = string
  default     = "10.24.0.0/20"

  validation {
    condition     = can(cidrhost(var.services_cidr, 0))
    error_message = "services_cidr must be an IPv4 CIDR block, e.g. 10.24.0.0/20."
  }
}
