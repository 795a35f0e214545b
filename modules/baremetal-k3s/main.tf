locals {
  servers = { for name, host in var.hosts : name => host if host.role == "server" }
  agents  = { for name, host in var.hosts : name => host if host.role == "agent" }

  init_server = coalesce(var.init_server, sort(keys(local.servers))[0])
  api_address = coalesce(var.api_address, var.hosts[local.init_server].address)
  server_url  = "https://${local.api_address}:6443"

  # Embedded etcd (--cluster-init) only when there is more than one server; a single
  # server keeps k3s's default SQLite datastore (https://docs.k3s.io/datastore).
  ha = length(local.servers) > 1

  # Every node carries its pool's name on every target (stacks.base.NODE_POOL_LABEL); on
  # bare metal each host is its own pool.
  pool_label = { for name in keys(var.hosts) : name => { "kfstack.io/pool" = name } }

  gpu_taint = { key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }
  gpu_labels = {
    for name, host in var.hosts : name => host.gpu_model == null ? {} : {
      "nvidia.com/gpu.present" = "true"
      "kfstack.io/gpu-model"   = host.gpu_model
    }
  }

  # Labels and taints per host, as arguments of both scripts/k3s-install.sh (k3s flags,
  # applied when the node registers) and scripts/k3s-node.sh (the API, for a node that
  # is already registered).
  node_args = {
    for name, host in var.hosts : name => concat(
      flatten([for key, value in merge(host.labels, local.pool_label[name], local.gpu_labels[name]) : ["--label", "${key}=${value}"]]),
      host.gpu_model == null ? [] : ["--taint", "${local.gpu_taint.key}=${local.gpu_taint.value}:${local.gpu_taint.effect}"],
    )
  }

  # The arguments of scripts/k3s-install.sh per host.
  install_args = {
    for name, host in var.hosts : name => concat(
      ["--role", host.role, "--node-name", name, "--version", var.k3s_version],
      ["--ready-timeout", tostring(var.ready_timeout), "--staging", var.staging_dir],
      local.node_args[name],
      host.gpu_model == null ? [] : ["--gpu"],
      host.role == "server" ? flatten([for san in distinct([local.api_address, host.address]) : ["--tls-san", san]]) : [],
      name == local.init_server ? (local.ha ? ["--cluster-init"] : []) : ["--server-url", local.server_url],
      var.airgap == null ? ["--script-url", var.install_script_url] : ["--airgap"],
    )
  }
  # Every argument is single-quoted for the remote shell, so a label value can never
  # become shell syntax.
  install_command = {
    for name, args in local.install_args : name => join(" ", concat(
      [var.hosts[name].user == "root" ? "" : "sudo -n", "bash", "${var.staging_dir}/k3s-install.sh"],
      [for arg in args : format("'%s'", replace(arg, "'", "'\\''"))],
    ))
  }
  node_command = {
    for name, args in local.node_args : name => join(" ", concat(
      [local.connections[local.init_server].sudo, "sh", "${var.staging_dir}/k3s-node.sh", "claim", name],
      [for arg in args : format("'%s'", replace(arg, "'", "'\\''"))],
    ))
  }

  scripts_sha = sha256(join(",", [for f in sort(fileset("${path.module}/scripts", "*")) : filesha256("${path.module}/scripts/${f}")]))
  airgap_sha = var.airgap == null ? null : {
    binary         = filesha256(var.airgap.binary)
    images         = filesha256(var.airgap.images)
    install_script = filesha256(var.airgap.install_script)
  }

  # What must re-run a host's install when it changes. The token is not here: it is
  # fixed for the cluster's lifetime (rotating it is `k3s token rotate`, not a reinstall).
  triggers = {
    for name in keys(var.hosts) : name => {
      command = local.install_command[name]
      scripts = local.scripts_sha
      airgap  = local.airgap_sha
      host    = local.identity[name]
    }
  }

  # Everything a host's resources need after creation, destroy time included (destroy
  # provisioners may only read `self`). The key path is kept, never the key itself.
  connections = {
    for name, host in var.hosts : name => {
      name     = name
      address  = host.address
      port     = host.port
      user     = host.user
      ssh_key  = host.ssh_key
      host_key = host.host_key
      timeout  = var.connection_timeout
      sudo     = host.user == "root" ? "" : "sudo -n "
      staging  = var.staging_dir
    }
  }
  # The connection minus how it is checked: pinning or rotating a host key, or a new
  # timeout, changes how Terraform connects, not what is installed, so it re-runs nothing.
  identity = {
    for name, connection in local.connections : name => {
      for key, value in connection : key => value if !contains(["host_key", "timeout"], key)
    }
  }
}

################################################################################
# Air-gap artifacts: uploaded once per host, before the install (docs.k3s.io/installation/airgap)
################################################################################

resource "terraform_data" "airgap_bundle" {
  for_each = var.airgap == null ? {} : var.hosts

  triggers_replace = {
    artifacts = local.airgap_sha
    host      = local.identity[each.key]
  }
  input = local.connections[each.key]

  connection {
    type        = "ssh"
    host        = self.input.address
    port        = self.input.port
    user        = self.input.user
    private_key = file(self.input.ssh_key)
    host_key    = self.input.host_key
    timeout     = self.input.timeout
  }

  provisioner "remote-exec" {
    inline = ["install -d -m 0700 ${self.input.staging} ${self.input.staging}/airgap ${self.input.staging}/airgap/images"]
  }
  provisioner "file" {
    source      = var.airgap.binary
    destination = "${self.input.staging}/airgap/k3s"
  }
  provisioner "file" {
    source      = var.airgap.images
    destination = "${self.input.staging}/airgap/images/${basename(var.airgap.images)}"
  }
  provisioner "file" {
    source      = var.airgap.install_script
    destination = "${self.input.staging}/airgap/install.sh"
  }
}

################################################################################
# Servers: installed first; each waits until k3s has written its node token
################################################################################

# One `host` module per host, keyed by name: removing a host from `hosts` destroys only
# its own resource. See host/main.tf for how a replacement differs from a removal.
module "server" {
  source     = "./host"
  for_each   = local.servers
  depends_on = [terraform_data.airgap_bundle]

  host            = local.connections[each.key]
  server          = local.connections[local.init_server]
  install_command = local.install_command[each.key]
  node_command    = local.node_command[each.key]
  triggers        = local.triggers[each.key]
  token           = var.token
  scripts_dir     = "${path.module}/scripts"
}

################################################################################
# Agents: join the init server with the cluster token once every server is up
################################################################################

module "agent" {
  source     = "./host"
  for_each   = local.agents
  depends_on = [module.server, terraform_data.airgap_bundle]

  host            = local.connections[each.key]
  server          = local.connections[local.init_server]
  install_command = local.install_command[each.key]
  node_command    = local.node_command[each.key]
  triggers        = local.triggers[each.key]
  token           = var.token
  scripts_dir     = "${path.module}/scripts"
}
