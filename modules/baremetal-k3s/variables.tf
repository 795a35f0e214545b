variable "cluster_name" {
  description = "Name of the cluster; used in the kubeconfig and in the GPU pool names."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.cluster_name))
    error_message = "cluster_name must be a lower-case DNS label."
  }
}

variable "k3s_version" {
  description = "k3s release to install on every host, e.g. v1.34.2+k3s1 (https://github.com/k3s-io/k3s/releases)."
  type        = string
  default     = "v1.34.2+k3s1"

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", var.k3s_version))
    error_message = "k3s_version must look like v1.34.2+k3s1."
  }
}

variable "hosts" {
  description = <<-EOT
    The machines, keyed by node name. `role` is server (control plane) or agent;
    `ssh_key` is the path of the private key Terraform connects with; `host_key` is the
    host's SSH public host key (`ecdsa-sha2-nistp256 AAAA...`), the only key Terraform
    accepts from it (null: any key, unchecked); `gpu_model` and `gpu_count` mark a GPU
    host (labelled, tainted and given the NVIDIA runtime).
  EOT
  type = map(object({
    address   = string
    port      = optional(number, 22)
    user      = optional(string, "root")
    ssh_key   = string
    host_key  = optional(string)
    role      = optional(string, "agent")
    gpu_model = optional(string)
    gpu_count = optional(number, 1)
    labels    = optional(map(string), {})
  }))

  validation {
    condition     = alltrue([for h in values(var.hosts) : contains(["server", "agent"], h.role)])
    error_message = "Every host's role must be \"server\" or \"agent\"."
  }
  validation {
    condition     = length([for h in values(var.hosts) : h if h.role == "server"]) > 0
    error_message = "At least one host needs role = \"server\"."
  }
  validation {
    condition     = alltrue([for h in values(var.hosts) : h.port >= 1 && h.port <= 65535])
    error_message = "Every host's SSH port must be between 1 and 65535."
  }
  validation {
    # Terraform's SSH client negotiates ECDSA, then RSA, then Ed25519 with no way to ask
    # for another type, so a host offering ECDSA must be pinned with its ECDSA key.
    condition = alltrue([for h in values(var.hosts) : h.host_key == null ? true : can(regex(
      "^(ecdsa-sha2-nistp(256|384|521)|ssh-rsa|ssh-ed25519) [A-Za-z0-9+/]+={0,2}( .*)?$", h.host_key
    ))])
    error_message = "host_key must be an OpenSSH public host key line: TYPE BASE64 [COMMENT], TYPE one of ecdsa-sha2-nistp256/384/521, ssh-rsa, ssh-ed25519."
  }
  validation {
    condition     = alltrue([for h in values(var.hosts) : h.gpu_count >= 1 && h.gpu_count <= 16])
    error_message = "gpu_count must be between 1 and 16."
  }
  validation {
    condition = alltrue(flatten([for h in values(var.hosts) : [
      for key, value in h.labels :
      can(regex("^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", key)) &&
      can(regex("^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$", value))
    ]]))
    error_message = "Host labels must be Kubernetes label keys and values (letters, digits, '-', '_', '.'; 63 characters at most)."
  }
  validation {
    condition     = alltrue([for name in keys(var.hosts) : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", name))])
    error_message = "Host names become Kubernetes node names: use lower-case DNS labels."
  }
}

variable "init_server" {
  description = "Name of the server that initialises the cluster; the other servers and every agent join it. Null picks the first server in name order."
  type        = string
  default     = null
}

variable "api_address" {
  description = "Address agents and the kubeconfig use to reach the API server (a VIP or DNS name); null uses the init server's address."
  type        = string
  default     = null
}

variable "token" {
  description = "Shared cluster secret servers start with and agents join with (k3s --token). kfstack generates it once per environment."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.token) >= 16 && can(regex("^[A-Za-z0-9]+$", var.token))
    error_message = "token must be at least 16 letters or digits."
  }
}

variable "airgap" {
  description = "Install without Internet access: local paths of the k3s binary, the image tarball and the install script (https://docs.k3s.io/installation/airgap). Null downloads from get.k3s.io."
  type = object({
    binary         = string
    images         = string
    install_script = string
  })
  default = null

  validation {
    condition     = var.airgap == null ? true : fileexists(var.airgap.binary) && fileexists(var.airgap.images) && fileexists(var.airgap.install_script)
    error_message = "airgap.binary, airgap.images and airgap.install_script must be existing local files."
  }
}

variable "install_script_url" {
  description = "Where hosts download the k3s install script when not air-gapped."
  type        = string
  default     = "https://get.k3s.io"
}

variable "staging_dir" {
  description = "Directory on each host (owned by the SSH user, mode 0700) that receives the scripts, token and air-gap artifacts before the install moves them into place."
  type        = string
  default     = "/var/tmp/kfstack-k3s"

  validation {
    condition     = startswith(var.staging_dir, "/") && !strcontains(var.staging_dir, " ")
    error_message = "staging_dir must be an absolute path without spaces."
  }
}

variable "ready_timeout" {
  description = "Seconds a server waits for k3s to write its node token and kubeconfig."
  type        = number
  default     = 300
}

variable "connection_timeout" {
  description = "How long Terraform keeps retrying an SSH connection to a host (a Go duration, e.g. 5m); a host booting for longer fails its install. A host-key mismatch is retried too, and reported only when this runs out."
  type        = string
  default     = "5m"

  validation {
    condition     = can(regex("^([0-9]+(ms|s|m|h))+$", var.connection_timeout))
    error_message = "connection_timeout must be a duration such as 30s, 5m or 1h."
  }
}
