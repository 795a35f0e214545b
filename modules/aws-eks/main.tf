data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  policy    = "arn:${local.partition}:iam::aws:policy"

  create_secrets_key = var.secrets_encryption && var.kms_key_arn == null
  secrets_key_arn    = local.create_secrets_key ? aws_kms_key.secrets[0].arn : var.kms_key_arn

  node_policies = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
  ])

  oidc_host = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")

  # CSI controllers assume their roles through IRSA; the service accounts are the
  # ones the upstream charts and the EKS add-ons create in kube-system.
  csi_roles = merge(
    {
      ebs = {
        service_account = "ebs-csi-controller-sa"
        policy          = "service-role/AmazonEBSCSIDriverPolicy"
        addon           = "aws-ebs-csi-driver"
      }
    },
    var.efs_csi ? {
      efs = {
        service_account = "efs-csi-controller-sa"
        policy          = "service-role/AmazonEFSCSIDriverPolicy"
        addon           = "aws-efs-csi-driver"
      }
    } : {}
  )
}

################################################################################
# Cluster IAM role
################################################################################

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.cluster_name}-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "${local.policy}/AmazonEKSClusterPolicy"
}

################################################################################
# Secrets encryption: a KMS key (kfstack's, or var.kms_key_arn) the cluster role uses
################################################################################

# The account statement keeps the key manageable through IAM (AWS's default key
# policy); the cluster role gets only what envelope encryption needs.
# https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html
data "aws_iam_policy_document" "secrets_key" {
  count = local.create_secrets_key ? 1 : 0

  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "ClusterRoleEncryptsSecrets"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.cluster.arn]
    }
  }
}

resource "aws_kms_key" "secrets" {
  count = local.create_secrets_key ? 1 : 0

  description             = "Envelope encryption of Kubernetes Secrets in EKS cluster ${var.cluster_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.secrets_key[0].json

  tags = var.tags
}

# Also needed for a key of the user's: its key policy may leave access to IAM.
data "aws_iam_policy_document" "cluster_encryption" {
  count = var.secrets_encryption ? 1 : 0

  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"]
    resources = [local.secrets_key_arn]
  }
}

resource "aws_iam_role_policy" "cluster_encryption" {
  count = var.secrets_encryption ? 1 : 0

  name   = "secrets-encryption"
  role   = aws_iam_role.cluster.name
  policy = data.aws_iam_policy_document.cluster_encryption[0].json
}

################################################################################
# Cluster
################################################################################

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
  }

  # Access entries (API) plus the aws-auth ConfigMap; the identity running kfstack
  # becomes cluster admin, so the platform layer can apply right after.
  access_config {
    authentication_mode                         = "API_AND_CONFIG_MAP"
    bootstrap_cluster_creator_admin_permissions = true
  }

  # EKS cannot remove encryption once on; turning secrets_encryption off later makes
  # Terraform replace the cluster.
  dynamic "encryption_config" {
    for_each = var.secrets_encryption ? [local.secrets_key_arn] : []
    content {
      resources = ["secrets"]
      provider {
        key_arn = encryption_config.value
      }
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_iam_role_policy.cluster_encryption]
}

resource "aws_eks_access_entry" "admin" {
  for_each = toset(var.admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value

  tags = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = toset(var.admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin[each.value].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]

  tags = var.tags
}

################################################################################
# Node groups
################################################################################

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.cluster_name}-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = local.node_policies

  role       = aws_iam_role.node.name
  policy_arn = "${local.policy}/${each.value}"
}

resource "aws_eks_node_group" "this" {
  for_each = var.node_pools

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = each.value.subnet_ids != null ? each.value.subnet_ids : var.subnet_ids

  instance_types = each.value.instance_types
  ami_type       = each.value.ami_type
  capacity_type  = each.value.capacity_type
  disk_size      = each.value.disk_size
  labels         = each.value.labels

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  tags = merge(var.tags, { "kfstack.io/pool" = each.key })

  # The cluster autoscaler owns the current size once the group exists.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}

################################################################################
# CSI drivers: IRSA roles, and EKS add-ons when managed
################################################################################

data "aws_iam_policy_document" "csi_assume" {
  for_each = local.csi_roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = ["system:serviceaccount:kube-system:${each.value.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "csi" {
  for_each = local.csi_roles

  name               = "${var.cluster_name}-${each.key}-csi"
  assume_role_policy = data.aws_iam_policy_document.csi_assume[each.key].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "csi" {
  for_each = local.csi_roles

  role       = aws_iam_role.csi[each.key].name
  policy_arn = "${local.policy}/${each.value.policy}"
}

resource "aws_eks_addon" "csi" {
  for_each = var.addons == "managed" ? local.csi_roles : {}

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.value.addon
  service_account_role_arn    = aws_iam_role.csi[each.key].arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  tags = var.tags

  # The controllers need nodes to run on before the add-on reports ACTIVE.
  depends_on = [aws_eks_node_group.this, aws_iam_role_policy_attachment.csi]
}
