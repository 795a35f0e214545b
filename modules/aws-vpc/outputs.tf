output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC (the EFS security group admits NFS from it)."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per zone in the order of var.zones; nodes and EFS mount targets live here."
  value       = aws_subnet.private[*].id
}

output "private_subnet_ids_by_zone" {
  description = "Private subnet ID per availability zone; node pools pinned to some zones take only theirs."
  value       = zipmap(var.zones, aws_subnet.private[*].id)
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per zone in the order of var.zones; internet-facing load balancers live here."
  value       = aws_subnet.public[*].id
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs (none when var.nat is none)."
  value       = aws_nat_gateway.this[*].id
}
