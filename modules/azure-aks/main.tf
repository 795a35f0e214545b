# An AKS cluster for Kubeflow. The default (system-mode) pool runs only AKS's critical
# add-ons (CriticalAddonsOnly taint), so Kubeflow and user workloads land on user-mode
# pools whose size and cost the spec controls; node identities and workload identity
# come from the OIDC issuer, so no service principal secret exists anywhere.

resource "azurerm_kubernetes_cluster" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  dns_prefix          = var.name
  node_resource_group = "${var.resource_group_name}-nodes"

  kubernetes_version        = var.kubernetes_version
  automatic_upgrade_channel = "patch"
  sku_tier                  = "Standard"

  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  default_node_pool {
    name                         = var.system_pool.name
    vm_size                      = var.system_pool.vm_size
    only_critical_addons_enabled = true
    auto_scaling_enabled         = true
    min_count                    = var.system_pool.min
    max_count                    = var.system_pool.max
    os_disk_size_gb              = var.system_pool.disk_gb
    vnet_subnet_id               = var.subnet_id
    zones                        = length(var.zones) > 0 ? var.zones : null
    orchestrator_version         = var.kubernetes_version
    temporary_name_for_rotation  = "${substr(var.system_pool.name, 0, 8)}tmp"
    tags                         = var.tags
  }

  identity {
    type = "SystemAssigned"
  }

  # Azure CNI Overlay with the Cilium dataplane, which enforces the NetworkPolicies
  # Kubeflow's manifests ship.
  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    load_balancer_sku   = "standard"
    # Outside the usual 10.x VNet ranges so peered networks do not collide.
    service_cidr   = "172.16.0.0/16"
    dns_service_ip = "172.16.0.10"
  }

  storage_profile {
    disk_driver_enabled         = var.disk_csi
    file_driver_enabled         = var.file_csi
    snapshot_controller_enabled = var.snapshot_controller
    blob_driver_enabled         = false
  }

  tags = var.tags

  lifecycle {
    # The cluster autoscaler owns the node count.
    ignore_changes = [default_node_pool[0].node_count]
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "this" {
  for_each = var.node_pools

  name                  = each.key
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  mode                  = "User"
  vm_size               = each.value.vm_size
  os_disk_size_gb       = each.value.disk_gb
  vnet_subnet_id        = var.subnet_id
  zones                 = length(each.value.zones) > 0 ? each.value.zones : (length(var.zones) > 0 ? var.zones : null)
  orchestrator_version  = var.kubernetes_version

  auto_scaling_enabled = true
  min_count            = each.value.min
  max_count            = each.value.max
  node_count           = coalesce(each.value.desired, each.value.min)

  node_labels = each.value.labels
  node_taints = each.value.taints
  gpu_driver  = each.value.gpu_driver

  # Spot: evicted VMs are deleted (a deallocated GPU VM still counts against quota) and
  # the price cap is only set on spot pools, where Azure accepts it.
  priority        = each.value.spot ? "Spot" : "Regular"
  eviction_policy = each.value.spot ? "Delete" : null
  spot_max_price  = each.value.spot ? each.value.spot_max_price : null

  tags = var.tags

  lifecycle {
    ignore_changes = [node_count]
  }
}
