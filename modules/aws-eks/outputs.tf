output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "endpoint" {
  description = "URL of the Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "ca_data" {
  description = "Base64-encoded certificate authority of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "oidc_issuer" {
  description = "OIDC issuer URL of the cluster (IRSA)."
  value       = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider for the cluster's issuer."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "node_groups" {
  description = "Names of the managed node groups, in the order of var.node_pools' keys."
  value       = [for name, group in aws_eks_node_group.this : group.node_group_name]
}

output "node_role_arn" {
  description = "ARN of the IAM role the nodes run as."
  value       = aws_iam_role.node.arn
}

output "csi_role_arns" {
  description = "IRSA role ARN per CSI driver (ebs, and efs when enabled), for the add-ons or the platform layer's charts."
  value       = { for key, role in aws_iam_role.csi : key => role.arn }
}

output "secrets_kms_key_arn" {
  description = "ARN of the KMS key that envelope-encrypts Kubernetes Secrets (null when secrets_encryption is off)."
  value       = var.secrets_encryption ? local.secrets_key_arn : null
}
