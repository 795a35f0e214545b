# A VPC-native network for GKE: one regional subnetwork whose two secondary ranges hold
# pod and service addresses (alias IPs). With an existing network nothing is created
# and the given names pass through, so the cluster module reads one set of outputs.

locals {
  create = var.existing_network == null

  pods_range_name     = local.create ? "${var.name}-pods" : var.pods_range_name
  services_range_name = local.create ? "${var.name}-services" : var.services_range_name
}

resource "google_compute_network" "this" {
  count = local.create ? 1 : 0

  project                 = var.project
  name                    = var.name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "this" {
  count = local.create ? 1 : 0

  project                  = var.project
  region                   = var.region
  name                     = var.name
  network                  = google_compute_network.this[0].id
  ip_cidr_range            = var.cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = local.pods_range_name
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = local.services_range_name
    ip_cidr_range = var.services_cidr
  }
}

# Nodes pull images from outside Google (the Kubeflow release images live on ghcr.io,
# docker.io and quay.io) and have no external addresses, so a new network needs NAT.
resource "google_compute_router" "this" {
  count = local.create ? 1 : 0

  project = var.project
  region  = var.region
  name    = var.name
  network = google_compute_network.this[0].id
}

resource "google_compute_router_nat" "this" {
  count = local.create ? 1 : 0

  project                            = var.project
  region                             = var.region
  name                               = var.name
  router                             = google_compute_router.this[0].name
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}
