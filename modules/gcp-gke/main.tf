# A regional, VPC-native GKE Standard cluster with Workload Identity, whose nodes all
# live in explicitly managed pools: the default pool is removed at creation so every
# pool (system, CPU, GPU) has the same lifecycle and can be changed without replacing
# the cluster.

locals {
  pinned = var.release_channel == "UNSPECIFIED"

  # GKE's own metrics and logging agents need these; nothing more (the default compute
  # service account would otherwise give every pod on the node project-wide Editor).
  node_roles = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ]
}

# A pinned cluster needs exact versions: node pools take no minor alias such as 1.34,
# and an alias would show as a change on every plan once GKE reports the patch it chose.
data "google_container_engine_versions" "pinned" {
  count = local.pinned ? 1 : 0

  project        = var.project
  location       = var.location
  version_prefix = "${var.kubernetes_version}."
}

resource "google_service_account" "nodes" {
  project      = var.project
  account_id   = "${substr(var.name, 0, 23)}-nodes"
  display_name = "GKE nodes of ${var.name}"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset(local.node_roles)

  project = var.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "this" {
  project        = var.project
  name           = var.name
  location       = var.location
  node_locations = length(var.zones) > 0 ? var.zones : null

  network         = var.network
  subnetwork      = var.subnetwork
  networking_mode = "VPC_NATIVE"

  # Only a Terraform-side guard (no API field): `kfstack destroy` re-applies it as false.
  deletion_protection = var.deletion_protection

  remove_default_node_pool = true
  initial_node_count       = 1

  min_master_version = local.pinned ? data.google_container_engine_versions.pinned[0].latest_master_version : null

  # Dataplane V2 enforces Kubernetes NetworkPolicy, which Kubeflow's manifests ship.
  datapath_provider = "ADVANCED_DATAPATH"

  release_channel {
    channel = var.release_channel
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = var.pods_range_name
    services_secondary_range_name = var.services_range_name
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
  }

  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }

  addons_config {
    gce_persistent_disk_csi_driver_config {
      enabled = true
    }

    gcp_filestore_csi_driver_config {
      enabled = var.filestore_csi
    }
  }

  lifecycle {
    # The default pool is removed right after creation; its settings would otherwise
    # show as a diff on every plan.
    ignore_changes = [node_config, initial_node_count]
  }
}

resource "google_container_node_pool" "this" {
  for_each = var.node_pools

  project        = var.project
  name           = each.key
  cluster        = google_container_cluster.this.id
  location       = var.location
  node_locations = length(each.value.zones) > 0 ? each.value.zones : null
  version        = local.pinned ? data.google_container_engine_versions.pinned[0].latest_node_version : null

  # Per zone, like every node count on a regional pool.
  initial_node_count = each.value.initial

  # Total bounds (not per zone): the spec's min/max describe the pool as a whole, and a
  # GPU pool that scales from 0 should grow in whichever zone has capacity (ANY) rather
  # than one node per zone at a time.
  autoscaling {
    total_min_node_count = each.value.min
    total_max_node_count = each.value.max
    location_policy      = each.value.gpu != null || each.value.spot ? "ANY" : "BALANCED"
  }

  management {
    auto_repair  = true
    auto_upgrade = !local.pinned
  }

  node_config {
    machine_type    = each.value.machine_type
    disk_size_gb    = each.value.disk_gb
    spot            = each.value.spot
    labels          = each.value.labels
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    dynamic "guest_accelerator" {
      for_each = each.value.gpu == null ? [] : [each.value.gpu]

      content {
        type  = guest_accelerator.value.type
        count = guest_accelerator.value.count

        gpu_driver_installation_config {
          gpu_driver_version = guest_accelerator.value.driver_version
        }
      }
    }

    dynamic "taint" {
      for_each = each.value.taints

      content {
        key    = taint.value.key
        value  = taint.value.value
        effect = taint.value.effect
      }
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  lifecycle {
    # The cluster autoscaler owns the node count.
    ignore_changes = [initial_node_count]
  }
}
