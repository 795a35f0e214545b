output "network" {
  description = "Self link (new) or name (existing) of the VPC network the cluster joins."
  value       = local.create ? google_compute_network.this[0].self_link : var.existing_network
}

output "subnetwork" {
  description = "Self link (new) or name (existing) of the subnetwork for the nodes."
  value       = local.create ? google_compute_subnetwork.this[0].self_link : var.existing_subnetwork
}

output "pods_range_name" {
  description = "Name of the secondary range pods take their addresses from."
  value       = local.pods_range_name
}

output "services_range_name" {
  description = "Name of the secondary range services take their addresses from."
  value       = local.services_range_name
}
