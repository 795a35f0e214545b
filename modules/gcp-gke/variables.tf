variable "project" {
  description = "Project id the cluster lives in."
  type        = string
}

variable "location" {
  description = "Region of the (regional) cluster."
  type        = string
}

variable "zones" {
  description = "Zones the nodes run in; empty lets GKE choose the region's default zones."
  type        = list(string)
  default     = []
}

variable "name" {
  description = "Cluster name (<name>-<environment>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be a lower-case label of at most 40 characters (GKE's limit)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (1.34); pinned only when release_channel is UNSPECIFIED."
  type        = string
  default     = "1.34"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.34."
  }
}

variable "release_channel" {
  description = "GKE release channel; EXTENDED keeps a minor up to 24 months; UNSPECIFIED pins kubernetes_version and turns node auto-upgrade off."
  type        = string
  default     = "REGULAR"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE", "EXTENDED", "UNSPECIFIED"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR, STABLE, EXTENDED or UNSPECIFIED."
  }
}

variable "deletion_protection" {
  description = "While true, Terraform refuses to destroy the cluster (kfstack destroy lifts it first)."
  type        = bool
  default     = true
}

variable "network" {
  description = "VPC network (self link or name) the cluster joins."
  type        = string
}

variable "subnetwork" {
  description = "Subnetwork (self link or name) for the nodes."
  type        = string
}

variable "pods_range_name" {
  description = "Secondary range of the subnetwork that pods take addresses from."
  type        = string
}

variable "services_range_name" {
  description = "Secondary range of the subnetwork that services take addresses from."
  type        = string
}

variable "filestore_csi" {
  description = "Enable the Filestore CSI driver add-on (ReadWriteMany volumes)."
  type        = bool
  default     = false
}

variable "node_pools" {
  description = <<-EOT
    Node pools by name. min/max bound the pool's total size across its zones; taints use
    GKE's effect names; gpu, when set, attaches guest accelerators and has GKE install the
    driver (driver_version DEFAULT or LATEST).
  EOT
  type = map(object({
    machine_type = string
    min          = number
    max          = number
    initial      = optional(number, 0)
    spot         = optional(bool, false)
    disk_gb      = optional(number, 100)
    zones        = optional(list(string), [])
    labels       = optional(map(string), {})
    taints = optional(list(object({
      key    = string
      value  = string
      effect = string
    })), [])
    gpu = optional(object({
      type           = string
      count          = number
      driver_version = optional(string, "DEFAULT")
    }))
  }))

  validation {
    condition     = length(var.node_pools) > 0
    error_message = "node_pools needs at least one pool (the system pool)."
  }

  validation {
    condition     = alltrue([for p in values(var.node_pools) : p.min >= 0 && p.min <= p.max && p.max >= 1])
    error_message = "every pool needs 0 <= min <= max and max >= 1."
  }

  validation {
    condition = alltrue(flatten([
      for p in values(var.node_pools) : [
        for t in p.taints : contains(["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"], t.effect)
      ]
    ]))
    error_message = "taint effects must be NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE."
  }

  validation {
    condition = alltrue([
      for p in values(var.node_pools) :
      p.gpu == null ? true : contains(["DEFAULT", "LATEST"], p.gpu.driver_version)
    ])
    error_message = "gpu.driver_version must be DEFAULT or LATEST."
  }
}
