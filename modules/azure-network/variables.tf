variable "name" {
  description = "Base name of the virtual network and subnet (<name>-<environment>)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$", var.name))
    error_message = "name must be 1-64 characters: letters, digits, '-', '_' or '.'."
  }
}

variable "location" {
  description = "Azure region of the virtual network."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group the new virtual network goes into."
  type        = string
}

variable "existing_subnet_id" {
  description = "Resource id of an existing subnet for the nodes; null creates a VNet and subnet."
  type        = string
  default     = null

  validation {
    condition = var.existing_subnet_id == null || can(regex(
      "^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
      var.existing_subnet_id,
    ))
    error_message = "existing_subnet_id must be a subnet resource id (/subscriptions/.../virtualNetworks/<vnet>/subnets/<subnet>)."
  }
}

variable "cidr" {
  description = "Address space of a new virtual network."
  type        = string
  default     = "10.30.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "cidr must be an IPv4 CIDR block, e.g. 10.30.0.0/16."
  }
}

variable "node_cidr" {
  description = "Prefix of the new node subnet, inside cidr (pods use an overlay range)."
  type        = string
  default     = "10.30.0.0/20"

  validation {
    condition     = can(cidrhost(var.node_cidr, 0))
    error_message = "node_cidr must be an IPv4 CIDR block, e.g. 10.30.0.0/20."
  }
}

variable "tags" {
  description = "Tags put on every resource created."
  type        = map(string)
  default     = {}
}
