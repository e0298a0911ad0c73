# Gantral's data stores for ONE region: the object-locked audit bucket, the PostgreSQL
# audit database, and secrets for the checkpoint signing key and the API's attestation key.
# Instantiate the module once per region (with a provider for that region) so audit data
# never leaves it.
#
# No secret value is ever written by Terraform, so none is ever in its state: RDS keeps the
# master password in Secrets Manager itself, and the two private keys and the processes'
# database URIs are created empty and filled out of band (docs/deployment.md).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  bucket_name = coalesce(var.bucket_name, "${var.name}-audit-${data.aws_caller_identity.current.account_id}")
  db_major    = split(".", var.db_engine_version)[0]
  tags        = merge({ "app.kubernetes.io/part-of" = "gantral", "gantral/region" = data.aws_region.current.name }, var.tags)
}

# --- Object storage -------------------------------------------------------------------------

resource "aws_s3_bucket" "audit" {
  #checkov:skip=CKV_AWS_18:Access logs need a second bucket the site owns; record S3 data events in CloudTrail instead (docs/deployment.md).
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket notifications: only the sink writes here, and the audit log itself records every write.
  #checkov:skip=CKV2_AWS_61:Deletion is governed by object-lock retention; a lifecycle expiry would fight the compliance retention period.
  #checkov:skip=CKV_AWS_144:One Gantral per region (data locality): replicating audit data to another region is the operator's explicit choice.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy_bucket
  # Object lock can only be enabled when the bucket is created.
  object_lock_enabled = true
  tags                = local.tags
}

resource "aws_s3_bucket_ownership_controls" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "audit" {
  bucket                  = aws_s3_bucket.audit.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "audit" {
  bucket = aws_s3_bucket.audit.id
  versioning_configuration {
    status = "Enabled"
  }
}

# COMPLIANCE: no one, including the account root, can shorten the retention or delete a
# locked version before it expires. Gantral also sets per-object COMPLIANCE retention.
resource "aws_s3_bucket_object_lock_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.object_lock_retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.audit]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audit" {
  bucket = aws_s3_bucket.audit.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.audit.arn, "${aws_s3_bucket.audit.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "audit" {
  bucket = aws_s3_bucket.audit.id
  policy = data.aws_iam_policy_document.bucket.json
  # A policy attached before the public access block could be judged public.
  depends_on = [aws_s3_bucket_public_access_block.audit]
}

# --- PostgreSQL -----------------------------------------------------------------------------

resource "aws_db_subnet_group" "audit" {
  name       = "${var.name}-audit"
  subnet_ids = var.database_subnet_ids
  tags       = local.tags
}

resource "aws_security_group" "db" {
  name        = "${var.name}-audit-db"
  description = "Gantral audit PostgreSQL: reachable only from the Gantral cluster."
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_sg" {
  for_each                     = toset(var.allowed_security_group_ids)
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL from ${each.value}"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_cidr" {
  for_each          = toset(var.allowed_cidr_blocks)
  security_group_id = aws_security_group.db.id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  description       = "PostgreSQL from ${each.value}"
}

resource "aws_db_parameter_group" "audit" {
  name_prefix = "${var.name}-audit-pg${local.db_major}-"
  family      = "postgres${local.db_major}"
  tags        = local.tags

  # Every connection is TLS; clients should use sslmode=verify-full.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "audit" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs a monitoring IAM role the site provisions; Gantral's own metrics cover sink lag and ingest.
  identifier     = "${var.name}-audit"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  db_name        = var.db_name

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  # RDS generates and rotates the owner's password in Secrets Manager; it never passes
  # through Terraform (nor its state).
  username                      = var.db_master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.audit.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.audit.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-audit-final"

  auto_minor_version_upgrade          = true
  allow_major_version_upgrade         = false
  apply_immediately                   = false
  iam_database_authentication_enabled = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  enabled_cloudwatch_logs_exports     = ["postgresql"]

  tags = local.tags
}

# --- Secrets (created empty; values are put out of band) ------------------------------------

# The Ed25519 checkpoint signing key (PEM from `gantral audit keygen`). Only the sink reads it.
resource "aws_secretsmanager_secret" "signing_key" {
  #checkov:skip=CKV2_AWS_57:Rotated by the documented procedure (docs/deployment.md), not a Secrets Manager rotation function.
  name                    = "${var.name}/audit/signing-key"
  description             = "Gantral audit checkpoint signing key (Ed25519 PEM). Read by the sink only."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.signing_key_recovery_window_days
  tags                    = local.tags
}

# The API's Ed25519 attestation key (PEM from `gantral audit keygen`): it signs every call the
# API relays to Temporal; the worker and the sink verify with its public half (not a secret:
# Helm attestation.publicKeys). Only the API reads it; never the checkpoint key above.
resource "aws_secretsmanager_secret" "attestation_key" {
  #checkov:skip=CKV2_AWS_57:Rotated by the documented procedure (docs/deployment.md), not a Secrets Manager rotation function.
  name                    = "${var.name}/api/attestation-key"
  description             = "Gantral API attestation key (Ed25519 PEM). Read by the API only."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.signing_key_recovery_window_days
  tags                    = local.tags
}

# postgresql:// URI of the sink's login role (member of gantral_audit_writer).
resource "aws_secretsmanager_secret" "sink_database_url" {
  #checkov:skip=CKV2_AWS_57:Rotated by the documented procedure (docs/deployment.md), not a Secrets Manager rotation function.
  name        = "${var.name}/database/sink-url"
  description = "Gantral sink PostgreSQL URI (audit writer). Read by the sink only."
  kms_key_id  = var.kms_key_arn
  tags        = local.tags
}

# postgresql:// URI of the API's login role (member of gantral_audit_reader).
resource "aws_secretsmanager_secret" "api_database_url" {
  #checkov:skip=CKV2_AWS_57:Rotated by the documented procedure (docs/deployment.md), not a Secrets Manager rotation function.
  name        = "${var.name}/database/api-url"
  description = "Gantral API PostgreSQL URI (audit reader, read-only)."
  kms_key_id  = var.kms_key_arn
  tags        = local.tags
}

# postgresql:// URI of the API's registry login role (owns schema gantral_registry).
resource "aws_secretsmanager_secret" "api_registry_url" {
  #checkov:skip=CKV2_AWS_57:Rotated by the documented procedure (docs/deployment.md), not a Secrets Manager rotation function.
  name        = "${var.name}/database/api-registry-url"
  description = "Gantral API PostgreSQL URI for the policy/workflow registry."
  kms_key_id  = var.kms_key_arn
  tags        = local.tags
}

# --- IAM policies for the processes' workload identities (IRSA / EKS Pod Identity) ----------

data "aws_iam_policy_document" "sink" {
  statement {
    sid = "AuditBucket"
    actions = [
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:GetBucketVersioning",
      "s3:PutBucketVersioning",
      "s3:GetBucketObjectLockConfiguration",
    ]
    resources = [aws_s3_bucket.audit.arn]
  }
  statement {
    sid = "AuditObjectsWriteOnce"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:PutObject",
      "s3:GetObjectRetention",
      "s3:PutObjectRetention",
    ]
    resources = ["${aws_s3_bucket.audit.arn}/*"]
  }
  statement {
    sid       = "SinkSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.signing_key.arn, aws_secretsmanager_secret.sink_database_url.arn]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "Kms"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "AuditBucketRead"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.audit.arn]
  }
  statement {
    sid       = "AuditObjectsRead"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention"]
    resources = ["${aws_s3_bucket.audit.arn}/*"]
  }
  statement {
    sid     = "ApiSecrets"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [
      aws_secretsmanager_secret.api_database_url.arn,
      aws_secretsmanager_secret.api_registry_url.arn,
      aws_secretsmanager_secret.attestation_key.arn,
    ]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "Kms"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "sink" {
  count       = var.create_iam_policies ? 1 : 0
  name        = "${var.name}-audit-sink"
  description = "Gantral audit sink: write-once audit objects, its secrets."
  policy      = data.aws_iam_policy_document.sink.json
  tags        = local.tags
}

resource "aws_iam_policy" "api" {
  count       = var.create_iam_policies ? 1 : 0
  name        = "${var.name}-api"
  description = "Gantral API: read audit objects, its database secrets and attestation key."
  policy      = data.aws_iam_policy_document.api.json
  tags        = local.tags
}
