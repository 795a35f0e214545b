variable "name" {
  description = "Cluster name (<name>-<environment>); also the DNS prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][-a-zA-Z0-9]{0,52}[a-zA-Z0-9]$", var.name))
    error_message = "name must be 2-54 letters, digits or '-', starting and ending alphanumeric."
  }
}

variable "location" {
  description = "Azure region of the cluster."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the cluster."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (1.34); AKS picks its latest patch and upgrades patches."
  type        = string
  default     = "1.34"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.34."
  }
}

variable "subnet_id" {
  description = "Resource id of the subnet the nodes join."
  type        = string
}

variable "zones" {
  description = "Availability zones of the system pool (and default for the other pools)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for z in var.zones : contains(["1", "2", "3"], z)])
    error_message = "zones must be \"1\", \"2\" or \"3\"."
  }
}

variable "system_pool" {
  description = "The pool AKS's own add-ons run on (only_critical_addons_enabled): size and bounds."
  type = object({
    name    = optional(string, "critical")
    vm_size = string
    min     = optional(number, 1)
    max     = optional(number, 3)
    disk_gb = optional(number, 128)
  })

  validation {
    condition     = var.system_pool.min >= 1 && var.system_pool.min <= var.system_pool.max
    error_message = "system_pool needs 1 <= min <= max."
  }
}

variable "node_pools" {
  description = <<-EOT
    User node pools by name (1-12 lower-case letters and digits, Azure's limit for Linux
    pools). Taints are "key=value:Effect" strings; gpu_driver is Install (AKS installs the
    NVIDIA driver) or None (the GPU operator does); spot pools are evicted by Delete and
    pay at most spot_max_price (-1: up to the on-demand price).
  EOT
  type = map(object({
    vm_size        = string
    min            = number
    max            = number
    desired        = optional(number)
    spot           = optional(bool, false)
    spot_max_price = optional(number, -1)
    disk_gb        = optional(number, 128)
    zones          = optional(list(string), [])
    labels         = optional(map(string), {})
    taints         = optional(list(string), [])
    gpu_driver     = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.node_pools) : can(regex("^[a-z][a-z0-9]{0,11}$", name))])
    error_message = "node pool names must be 1-12 lower-case letters and digits, starting with a letter."
  }

  validation {
    condition     = alltrue([for p in values(var.node_pools) : p.min >= 0 && p.min <= p.max && p.max >= 1])
    error_message = "every pool needs 0 <= min <= max and max >= 1."
  }

  validation {
    condition = alltrue([
      for p in values(var.node_pools) : p.gpu_driver == null ? true : contains(["Install", "None"], p.gpu_driver)
    ])
    error_message = "gpu_driver must be Install or None."
  }
}

variable "disk_csi" {
  description = "Enable the Azure Disk CSI driver (ReadWriteOnce volumes)."
  type        = bool
  default     = true
}

variable "file_csi" {
  description = "Enable the Azure Files CSI driver (ReadWriteMany volumes)."
  type        = bool
  default     = true
}

variable "snapshot_controller" {
  description = "Enable the CSI snapshot controller (VolumeSnapshot support)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags put on every resource created."
  type        = map(string)
  default     = {}
}
