output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "cluster_id" {
  description = "Resource id of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.id
}

output "endpoint" {
  description = "HTTPS URL of the cluster's API server."
  value       = "https://${azurerm_kubernetes_cluster.this.fqdn}:443"
}

output "ca_data" {
  description = "Base64-encoded PEM of the cluster CA, as kubeconfig's certificate-authority-data."
  # The CA is public; the provider marks all of kube_config sensitive.
  value = nonsensitive(azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate)
}

output "oidc_issuer" {
  description = "OIDC issuer URL of the cluster (workload identity federation)."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}

output "node_pools" {
  description = "Names of the user node pools, once each exists, after the system pool."
  value       = concat([var.system_pool.name], [for name, pool in azurerm_kubernetes_cluster_node_pool.this : pool.name])
}

output "kubelet_identity_object_id" {
  description = "Object id of the kubelet identity (grant it AcrPull on private registries)."
  value       = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
}
