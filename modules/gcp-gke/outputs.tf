output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "cluster_id" {
  description = "Full resource id (projects/<p>/locations/<l>/clusters/<n>)."
  value       = google_container_cluster.this.id
}

output "endpoint" {
  description = "HTTPS URL of the cluster's API server."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "ca_data" {
  description = "Base64-encoded PEM of the cluster CA, as kubeconfig's certificate-authority-data."
  value       = google_container_cluster.this.master_auth[0].cluster_ca_certificate
}

output "oidc_issuer" {
  description = "Issuer of the cluster's service account tokens (Workload Identity federation)."
  value       = "https://container.googleapis.com/v1/${google_container_cluster.this.id}"
}

output "workload_pool" {
  description = "Workload Identity pool Kubernetes service accounts map into."
  value       = "${var.project}.svc.id.goog"
}

output "node_pools" {
  description = "Names of the node pools, once each exists."
  value       = [for name, pool in google_container_node_pool.this : pool.name]
}

output "node_service_account" {
  description = "E-mail of the service account the nodes run as."
  value       = google_service_account.nodes.email
}
