output "cluster_name" {
  description = "Name of the cluster."
  value       = var.cluster_name
}

output "endpoint" {
  description = "URL of the Kubernetes API (the init server or api_address, port 6443); known once every server is installed."
  value       = local.server_url
  depends_on  = [module.server]
}

output "init_server" {
  description = "The server the kubeconfig is fetched from: name, address, port, user, key path and pinned host key."
  value       = { for k, v in local.connections[local.init_server] : k => v if !contains(["staging", "timeout"], k) }
  depends_on  = [module.server]
}

output "node_pools" {
  description = "Every node's name; on bare metal each host is its own pool."
  value       = sort(keys(var.hosts))
  depends_on  = [module.server, module.agent]
}

output "gpu_pools" {
  description = "One pool per GPU model: its hosts, per-node GPU count (the smallest in the group), the labels and taint every host in it carries. The driver and toolkit are the host's own."
  value = [
    for model in sort(distinct([for h in values(var.hosts) : h.gpu_model if h.gpu_model != null])) : {
      name      = "gpu-${trim(replace(lower(model), "/[^a-z0-9]+/", "-"), "-")}"
      gpu_model = model
      gpu_count = min([for h in values(var.hosts) : h.gpu_count if h.gpu_model == model]...)
      hosts     = sort([for name, h in var.hosts : name if h.gpu_model == model])
      labels = {
        "nvidia.com/gpu.present" = "true"
        "kfstack.io/gpu-model"   = model
      }
      taints = [local.gpu_taint]
      driver = "host"
    }
  ]
  depends_on = [module.agent, module.server]
}

output "load_balancer" {
  description = "Whether a cloud load balancer serves LoadBalancer Services: never on bare metal."
  value       = false
}
