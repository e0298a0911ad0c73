variable "name" {
  description = "Prefix of every resource name, e.g. \"gantral-eu\". One module instance per region."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

# --- Object storage (audit snapshots, evidence bundles, checkpoints) -----------------------

variable "bucket_name" {
  description = "Audit bucket name; null derives \"<name>-audit-<account id>\"."
  type        = string
  default     = null
}

variable "object_lock_retention_days" {
  description = "Default COMPLIANCE retention of every audit object, in days. Cannot be shortened for stored objects, by anyone, until it expires. Gantral's GANTRAL_S3__RETENTION_DAYS should be at least this."
  type        = number
  default     = 2555

  validation {
    condition     = var.object_lock_retention_days >= 1 && floor(var.object_lock_retention_days) == var.object_lock_retention_days
    error_message = "object_lock_retention_days must be a whole number of days, at least 1."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket, RDS and the signing-key secret; null uses AWS-managed keys (SSE-S3 for the bucket)."
  type        = string
  default     = null
}

variable "force_destroy_bucket" {
  description = "Allow `terraform destroy` to empty the bucket. Object-locked versions still cannot be deleted before their retention ends."
  type        = bool
  default     = false
}

# --- PostgreSQL (the audit log) -------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the database and of the Kubernetes cluster running Gantral."
  type        = string
}

variable "database_subnet_ids" {
  description = "Private subnets (at least two availability zones) for the RDS subnet group."
  type        = list(string)

  validation {
    condition     = length(var.database_subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (e.g. the cluster's node or pod security groups) allowed to reach PostgreSQL on 5432."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "Private CIDR blocks allowed to reach PostgreSQL on 5432."
  type        = list(string)
  default     = []
}

variable "db_engine_version" {
  description = "PostgreSQL major (or major.minor) version."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GiB (0 disables autoscaling)."
  type        = number
  default     = 500
}

variable "db_name" {
  description = "Database holding the gantral_audit schema."
  type        = string
  default     = "gantral"
}

variable "db_master_username" {
  description = "Master (owner) user. Its password is generated and kept in Secrets Manager by RDS; it runs migrations only, never a Gantral process."
  type        = string
  default     = "gantral_owner"
}

variable "db_multi_az" {
  description = "Standby in a second availability zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backup retention (1-35 days)."
  type        = number
  default     = 14
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database."
  type        = bool
  default     = true
}

# --- Secrets --------------------------------------------------------------------------------

variable "signing_key_recovery_window_days" {
  description = "Days a deleted private-key secret (checkpoint signing key, API attestation key) can still be restored (0 deletes at once)."
  type        = number
  default     = 30
}

# --- Workload identity (optional) -----------------------------------------------------------

variable "create_iam_policies" {
  description = "Create IAM policies for the sink (audit writer) and the API (reader) to attach to their IRSA / Pod Identity roles."
  type        = bool
  default     = true
}
