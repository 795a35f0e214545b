output "file_system_id" {
  description = "ID of the EFS file system (the RWX StorageClass's fileSystemId)."
  value       = aws_efs_file_system.this.id
}

output "mount_target_ids" {
  description = "Mount target IDs, one per subnet in the order of var.subnet_ids."
  value       = aws_efs_mount_target.this[*].id
}

output "security_group_id" {
  description = "ID of the security group that admits NFS to the mount targets."
  value       = aws_security_group.nfs.id
}
