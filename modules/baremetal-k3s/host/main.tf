# One host of the cluster, as one resource: upload, install, claim; on destroy, release
# (drain and delete the node) and remove. The parent module calls this once per server
# and, after every server, once per agent.
#
# Replacing the resource (new version, labels, scripts ...) creates the new instance
# first, which re-runs the install in place (k3s's documented upgrade path) and records
# its id on the host (/var/lib/rancher/k3s/kfstack-generation) and on the init server
# (/var/lib/rancher/k3s/kfstack-nodes/<node>). The old instance's destroy steps then see a
# newer generation and touch nothing; only a host removed from the spec, whose generation
# is still the destroyed instance's, is drained and uninstalled. Without this, a version
# bump would uninstall the server and with it the cluster's datastore.
resource "terraform_data" "this" {
  triggers_replace = var.triggers

  # Destroy-time provisioners may read only `self`: everything they need is kept here
  # (the key's path, never the key).
  input = merge(var.host, { server = var.server })

  lifecycle {
    create_before_destroy = true
  }

  # try(): instances created before host keys were pinned have no host_key or timeout
  # in their stored input, and their destroy steps read only that.
  connection {
    type        = "ssh"
    host        = self.input.address
    port        = self.input.port
    user        = self.input.user
    private_key = file(self.input.ssh_key)
    host_key    = try(self.input.host_key, null)
    timeout     = try(self.input.timeout, null)
  }

  provisioner "remote-exec" {
    inline = ["install -d -m 0700 ${self.input.staging}"]
  }
  provisioner "file" {
    source      = "${var.scripts_dir}/"
    destination = self.input.staging
  }
  provisioner "file" {
    content     = var.token
    destination = "${self.input.staging}/token"
  }
  provisioner "remote-exec" {
    inline = ["${var.install_command} --generation ${self.id}"]
  }
  # Claim the node on the init server; a node that is already registered gets its labels
  # and taints through the API there.
  provisioner "remote-exec" {
    connection {
      type        = "ssh"
      host        = self.input.server.address
      port        = self.input.server.port
      user        = self.input.server.user
      private_key = file(self.input.server.ssh_key)
      host_key    = try(self.input.server.host_key, null)
      timeout     = try(self.input.server.timeout, null)
    }
    inline = ["${var.node_command} --generation ${self.id}"]
  }

  # Drain and delete the node through the init server before its k3s goes away, so its
  # pods are rescheduled rather than left Unknown. Best effort: a dead server must not
  # block removal. The init server itself is not drained: the cluster goes with it.
  provisioner "remote-exec" {
    when       = destroy
    on_failure = continue
    connection {
      type        = "ssh"
      host        = self.input.server.address
      port        = self.input.server.port
      user        = self.input.server.user
      private_key = file(self.input.server.ssh_key)
      host_key    = try(self.input.server.host_key, null)
      timeout     = try(self.input.server.timeout, null)
    }
    inline = [
      self.input.name == self.input.server.name
      ? "echo 'kfstack: ${self.input.name} is the init server; not draining it'"
      : "${self.input.server.sudo}sh ${self.input.server.staging}/k3s-node.sh release ${self.input.name} --generation ${self.id}",
    ]
  }
  provisioner "remote-exec" {
    when   = destroy
    inline = ["${self.input.sudo}sh ${self.input.staging}/k3s-remove.sh ${self.input.staging} ${self.id}"]
  }
}
