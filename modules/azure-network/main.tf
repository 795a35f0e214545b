# The node network of an AKS cluster. Pods use Azure CNI Overlay addresses, so the
# subnet only needs room for nodes and internal load balancers. With an existing subnet
# nothing is created and its id passes through.

locals {
  create = var.existing_subnet_id == null
}

resource "azurerm_virtual_network" "this" {
  count = local.create ? 1 : 0

  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = [var.cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "nodes" {
  count = local.create ? 1 : 0

  name                 = "${var.name}-nodes"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.this[0].name
  address_prefixes     = [var.node_cidr]
}
