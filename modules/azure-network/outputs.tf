output "subnet_id" {
  description = "Resource id of the subnet the nodes join."
  value       = local.create ? azurerm_subnet.nodes[0].id : var.existing_subnet_id
}

output "vnet_id" {
  description = "Resource id of the virtual network created (null with an existing subnet)."
  value       = local.create ? azurerm_virtual_network.this[0].id : null
}
