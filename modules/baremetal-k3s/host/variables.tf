variable "host" {
  description = "The host to install: node name, SSH address, port, user, private key path, pinned host key (null: unchecked), connection timeout, the sudo prefix for a non-root user, and the staging directory."
  type = object({
    name     = string
    address  = string
    port     = number
    user     = string
    ssh_key  = string
    host_key = string
    timeout  = string
    sudo     = string
    staging  = string
  })
}

variable "server" {
  description = "The init server (same shape as `host`): where the node is claimed after its install and drained before its removal."
  type = object({
    name     = string
    address  = string
    port     = number
    user     = string
    ssh_key  = string
    host_key = string
    timeout  = string
    sudo     = string
    staging  = string
  })
}

variable "install_command" {
  description = "The shell command that runs scripts/k3s-install.sh on the host (its arguments already quoted)."
  type        = string
}

variable "node_command" {
  description = "The shell command that runs scripts/k3s-node.sh claim on the init server for this host (its arguments already quoted)."
  type        = string
}

variable "triggers" {
  description = "Everything whose change must re-run the install; becomes triggers_replace."
  type        = any
}

variable "token" {
  description = "The cluster token, uploaded into the staging directory for the install."
  type        = string
  sensitive   = true
}

variable "scripts_dir" {
  description = "Local directory whose files (the install, node and remove scripts) are uploaded to the staging directory."
  type        = string
}
