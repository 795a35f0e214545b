variable "cluster_name" {
  description = "Name of the EKS cluster; also the prefix of its IAM roles."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][-a-zA-Z0-9]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and hold only letters, digits and hyphens (at most 100)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and the node groups, e.g. 1.34."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.34."
  }
}

variable "subnet_ids" {
  description = "Private subnet IDs (two or more zones) for the control plane's network interfaces and the nodes."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "endpoint_public_access" {
  description = "Whether the Kubernetes API is reachable from the internet (private access is always on)."
  type        = bool
  default     = true
}

variable "admin_principal_arns" {
  description = "IAM principals granted cluster admin through access entries, besides the identity that creates the cluster."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", arn))])
    error_message = "admin_principal_arns must be IAM role or user ARNs."
  }
}

variable "secrets_encryption" {
  description = "Whether Kubernetes Secrets are envelope-encrypted with a customer-managed KMS key: kms_key_arn, or one this module creates (rotation on). EKS cannot turn it off again; setting it to false later replaces the cluster."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of an existing symmetric KMS key in the cluster's region for secrets_encryption; null creates one. Its key policy must let the account's IAM policies grant use (the default key policy does)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$", coalesce(var.kms_key_arn, "-")))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias or a key id."
  }
}

variable "kms_deletion_window_days" {
  description = "Days a created KMS key waits, after the cluster is destroyed, before AWS deletes it; until then a deletion by mistake can be cancelled (aws kms cancel-key-deletion)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30 (AWS's limits)."
  }
}

variable "node_pools" {
  description = <<-EOT
    One managed node group per entry. ami_type is AL2023_x86_64_STANDARD for CPU pools and
    AL2023_x86_64_NVIDIA for GPU pools; taint effects use the EKS names (NO_SCHEDULE ...).
    subnet_ids pins a pool to some zones (GPU capacity often exists only in a few): the
    private subnets of those zones; null puts the pool in every subnet of var.subnet_ids.
  EOT
  type = map(object({
    instance_types = list(string)
    ami_type       = string
    capacity_type  = string
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size      = number
    labels         = map(string)
    taints = list(object({
      key    = string
      value  = string
      effect = string
    }))
    subnet_ids = optional(list(string))
  }))

  validation {
    condition     = alltrue([for p in values(var.node_pools) : p.min_size <= p.desired_size && p.desired_size <= p.max_size && p.max_size >= 1])
    error_message = "Every pool needs min_size <= desired_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for p in values(var.node_pools) : p.subnet_ids == null || length(coalesce(p.subnet_ids, [])) > 0])
    error_message = "No subnet is in the zones of pool(s) ${join(", ", [for name, p in var.node_pools : name if p.subnet_ids != null && length(coalesce(p.subnet_ids, [])) == 0])}: give the pool zones that have a private subnet, or add one there."
  }

  validation {
    condition     = alltrue([for p in values(var.node_pools) : contains(["ON_DEMAND", "SPOT"], p.capacity_type)])
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    condition     = alltrue(flatten([for p in values(var.node_pools) : [for t in p.taints : contains(["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"], t.effect)]]))
    error_message = "Taint effects must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE."
  }
}

variable "addons" {
  description = "managed: install the EBS (and EFS) CSI drivers as EKS add-ons; self-managed: leave them to the platform layer (the IAM roles are created either way)."
  type        = string
  default     = "managed"

  validation {
    condition     = contains(["managed", "self-managed"], var.addons)
    error_message = "addons must be managed or self-managed."
  }
}

variable "efs_csi" {
  description = "Whether the EFS CSI driver's IAM role (and, with managed add-ons, the add-on) is created."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
